ft_test_binary(test_model ${CMAKE_CURRENT_LIST_DIR}/test_model.c)
ft_test_cases(test_model unit model
  tfjs_counts tfjs_values tfjs_get_errors tfjs_good_small tfjs_bad tfjs_parse_mem tfjs_oom
  h5_forward h5_structure h5_bad h5_parse_mem h5_write h5_info h5_oom)

# model.h5_write leaves written_*.h5 in the test directory; h5py (Debian's
# python3-h5py, tools/setup.sh --test) then checks they are ordinary Keras
# files and still compute the fixtures' expected outputs.
set_tests_properties(model.h5_write PROPERTIES FIXTURES_SETUP ft_h5_written)
add_test(NAME model.h5_check_keras
  COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tools/check_keras_h5.py
    ${CMAKE_CURRENT_BINARY_DIR}/written_facetracker.h5
    --expect ${CMAKE_CURRENT_LIST_DIR}/../data/h5/k3_facetracker.expected.json
    ${CMAKE_CURRENT_BINARY_DIR}/written_mixed.h5
    --expect ${CMAKE_CURRENT_LIST_DIR}/../data/h5/k3_mixed.expected.json)
set_tests_properties(model.h5_check_keras PROPERTIES LABELS unit
  FIXTURES_REQUIRED ft_h5_written)
