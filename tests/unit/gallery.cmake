ft_test_binary(test_gallery ${CMAKE_CURRENT_LIST_DIR}/test_gallery.c)
ft_test_cases(test_gallery unit gallery
  open names people enroll delete_cascade settings events events_csv keys
  concurrent concurrent_create crash readonly busy corrupt migrate oom
  match_rules match_brute kernels match_reload threads calibrate calibrate_store)
