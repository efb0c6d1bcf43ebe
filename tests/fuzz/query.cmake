ft_fuzz_target(query ${CMAKE_CURRENT_LIST_DIR}/fuzz_query.c)
