# ftengine_add_plugin(NAME KIND SOURCES ...)
#
# Builds lib/ftengine/plugins/libftengine-<kind>-<name>.so: a MODULE library (loaded with
# dlopen, never linked against) with hidden visibility, so the only export is the
# descriptor alias that FTENGINE_PLUGIN defines.
function(ftengine_add_plugin name kind)
  cmake_parse_arguments(PLUGIN "" "" "SOURCES;LIBRARIES" ${ARGN})
  set(target ftengine-${kind}-${name})
  add_library(${target} MODULE ${PLUGIN_SOURCES})
  target_link_libraries(${target} PRIVATE ftengine::sdk ${PLUGIN_LIBRARIES})
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    OUTPUT_NAME ftengine-${kind}-${name}
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${FTENGINE_PLUGIN_OUTPUT_DIRECTORY}
    INSTALL_RPATH "$ORIGIN/../..")
  ftengine_target_warnings(${target})
  install(TARGETS ${target} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/ftengine/plugins)
endfunction()
