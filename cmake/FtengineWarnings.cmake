# Our own targets build warning-free with -Wall -Wextra -Werror.
function(ftengine_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
endfunction()
