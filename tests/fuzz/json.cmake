ft_fuzz_target(json ${CMAKE_CURRENT_LIST_DIR}/fuzz_json.c)
