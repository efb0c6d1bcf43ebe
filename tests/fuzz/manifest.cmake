# tests/CMakeLists.txt includes the fragments before it defines
# ft_fuzz_target, so the call waits for the end of that directory when needed.
if(COMMAND ft_fuzz_target)
  ft_fuzz_target(manifest ${CMAKE_CURRENT_LIST_DIR}/fuzz_manifest.c)
else()
  cmake_language(EVAL CODE
    "cmake_language(DEFER CALL ft_fuzz_target manifest [[${CMAKE_CURRENT_LIST_DIR}/fuzz_manifest.c]])")
endif()
