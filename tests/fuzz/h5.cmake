ft_fuzz_target(h5 ${CMAKE_CURRENT_LIST_DIR}/fuzz_h5.c)
