ft_test_binary(test_openset ${CMAKE_CURRENT_LIST_DIR}/test_openset.c)
ft_test_cases(test_openset unit openset decide defaults person_decide person_thresholds
  pair_threshold calibrate_cosine subject)
