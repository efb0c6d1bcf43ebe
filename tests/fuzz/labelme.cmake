ft_fuzz_target(labelme ${CMAKE_CURRENT_LIST_DIR}/fuzz_labelme.c)
