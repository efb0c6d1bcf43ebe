# The quantised 1:N index and its int8 kernels (src/gallery/match_i8.c,
# sqdist_i8_*.c): exact kernels, the error bound, and the same answers as
# the float search on random and real (face-api golden) descriptors.
ft_test_binary(test_match_i8 ${CMAKE_CURRENT_LIST_DIR}/test_match_i8.c)
ft_test_cases(test_match_i8 unit match_i8 kernels bound same_random same_dims same_real threshold)
