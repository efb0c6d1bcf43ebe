ft_fuzz_target(tfjs_graph ${CMAKE_CURRENT_LIST_DIR}/fuzz_tfjs_graph.c)
