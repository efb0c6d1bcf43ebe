ft_test_binary(test_gallery ${CMAKE_CURRENT_LIST_DIR}/test_gallery.c)
# The cases, on SQLite here and again on PostgreSQL in gallery_pg.cmake.
set(FT_GALLERY_CASES
  open names people enroll delete_cascade settings events events_csv keys
  concurrent concurrent_create crash readonly busy corrupt migrate oom
  match_rules match_brute kernels match_reload threads calibrate calibrate_store url_mask pg_feed
  copy spaces detector)
ft_test_cases(test_gallery unit gallery ${FT_GALLERY_CASES})
foreach(c ${FT_GALLERY_CASES})
  set_tests_properties(gallery.${c} PROPERTIES SKIP_RETURN_CODE 77) # pg_feed: PostgreSQL only
endforeach()
