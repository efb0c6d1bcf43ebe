ft_test_binary(test_face ${CMAKE_CURRENT_LIST_DIR}/test_face.c)
ft_test_cases(test_face unit face prepare_matches_ref warp_matches_ref
  shortcut_matches_ref add_chain_matches_ref)
