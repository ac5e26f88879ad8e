# ftengine_add_plugin(NAME KIND SOURCES src... [LIBRARIES lib...])
#
# Builds libftengine-<kind>-<name>.so: a MODULE library (loaded with dlopen, never linked
# against) with hidden visibility, so the only export is the descriptor alias that
# FTENGINE_PLUGIN defines. KIND is adapter, optimizer, model or backend.
#
# Used by the project itself and, installed with the SDK (find_package(ftengine)), by plugins
# built outside it:
#   - output: FTENGINE_PLUGIN_OUTPUT_DIRECTORY if set, else <build>/plugins (so
#     `ftengine --plugin-dir <build>/plugins ...` finds it);
#   - install: <libdir>/ftengine/plugins of the install prefix, where an ftengine installed
#     in the same prefix looks without flags;
#   - RPATH $ORIGIN/../..: libftengine_sdk.so in <libdir>.
function(ftengine_add_plugin name kind)
  cmake_parse_arguments(PLUGIN "" "" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT kind MATCHES "^(adapter|optimizer|model|backend)$")
    message(FATAL_ERROR "ftengine_add_plugin(${name} ${kind}): KIND is adapter, optimizer, model "
                        "or backend")
  endif()
  if(NOT PLUGIN_SOURCES)
    message(FATAL_ERROR "ftengine_add_plugin(${name} ${kind}): no SOURCES")
  endif()
  if(DEFINED FTENGINE_PLUGIN_OUTPUT_DIRECTORY)
    set(output_dir ${FTENGINE_PLUGIN_OUTPUT_DIRECTORY})
  else()
    set(output_dir ${CMAKE_BINARY_DIR}/plugins)
  endif()
  include(GNUInstallDirs)
  set(target ftengine-${kind}-${name})
  add_library(${target} MODULE ${PLUGIN_SOURCES})
  target_link_libraries(${target} PRIVATE ftengine::sdk ${PLUGIN_LIBRARIES})
  target_compile_features(${target} PRIVATE cxx_std_20)
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    OUTPUT_NAME ftengine-${kind}-${name}
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${output_dir}
    INSTALL_RPATH "$ORIGIN/../..")
  if(COMMAND ftengine_target_warnings)  # in the project's own tree
    ftengine_target_warnings(${target})
  endif()
  install(TARGETS ${target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/ftengine/plugins)
endfunction()
