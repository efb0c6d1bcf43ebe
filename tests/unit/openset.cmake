ft_test_binary(test_openset ${CMAKE_CURRENT_LIST_DIR}/test_openset.c)
ft_test_cases(test_openset unit openset decide defaults person_decide person_thresholds
  person_thresholds_matrix person_nearest_one pair_threshold calibrate_cosine subject)
add_test(NAME openset.cli_loso COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/openset_cli.sh
  $<TARGET_FILE:facetracker>)
set_tests_properties(openset.cli_loso PROPERTIES LABELS unit SKIP_RETURN_CODE 77
  ENVIRONMENT "FT_ASSETS_DIR=${FT_ASSETS_DIR}")
