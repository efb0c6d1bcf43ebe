ft_test_binary(test_access ${CMAKE_CURRENT_LIST_DIR}/test_access.c)
ft_test_cases(test_access unit access reasons quality decide check spaces fused enroll_detector)
