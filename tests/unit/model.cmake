ft_test_binary(test_model ${CMAKE_CURRENT_LIST_DIR}/test_model.c)
ft_test_cases(test_model unit model
  tfjs_counts tfjs_values tfjs_get_errors tfjs_good_small tfjs_bad tfjs_parse_mem tfjs_oom)
