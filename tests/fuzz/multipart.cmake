ft_fuzz_target(multipart ${CMAKE_CURRENT_LIST_DIR}/fuzz_multipart.c)
