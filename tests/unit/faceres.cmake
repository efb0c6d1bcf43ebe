# faceres (src/face/faceres.c, src/model/tfjs_graph.c): unit cases, and the
# conformance with tfjs running the same files (tests/golden/faceres/*.txt,
# made by tools/gen_faceres_goldens.mjs; label golden).
ft_test_binary(test_faceres ${CMAKE_CURRENT_LIST_DIR}/test_faceres.c)
ft_test_cases(test_faceres unit faceres graph_parse graph_errors half_decode f16_manifest
  compile_refusals oom prepare_edges distance)
ft_test_cases(test_faceres golden golden.faceres synthetic sample1 sample2 sample3 sample4
  sample5 sample6)
# The same network check on the reference kernels (STYLE §5: FT_KERNELS=ref).
add_test(NAME golden.faceres.synthetic_ref COMMAND test_faceres synthetic)
set_tests_properties(golden.faceres.synthetic_ref PROPERTIES LABELS golden
  ENVIRONMENT "FT_ASSETS_DIR=${FT_ASSETS_DIR};FT_KERNELS=ref")
