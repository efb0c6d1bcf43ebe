ft_fuzz_target(manifest ${CMAKE_CURRENT_LIST_DIR}/fuzz_manifest.c)
