ft_test_binary(test_core ${CMAKE_CURRENT_LIST_DIR}/test_core.c)
ft_test_cases(test_core unit core status sha256 buf arena size_math mem_fail pool mirror)
