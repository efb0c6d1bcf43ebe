# Conformance with face-api (goldens made by tools/gen_goldens.sh).
ft_test_binary(test_golden ${CMAKE_CURRENT_LIST_DIR}/test_golden.c)
foreach(i 1 2 3 4 5 6)
  ft_test_cases(test_golden golden golden ssd_sample${i} tiny_sample${i} ssd_px_sample${i}
    tiny_px_sample${i} ssd_raw_sample${i} ssd_padding_rows_sample${i})
  ft_test_cases(test_golden golden golden recognition_sample${i})
endforeach()
