ft_test_binary(test_nn ${CMAKE_CURRENT_LIST_DIR}/test_nn.c)
ft_test_cases(test_nn unit nn geom conv_ref_hand dwconv_ref_hand gemm_ref_hand act pool_hand
  resize_hand gemm_variants gemm_strides dwconv_variants dconv_variants dconv_gemm_bits maxpool_variants conv_pad conv_layers sepconv_layers
  sepconv_chain top_rows sep_bands sep_keep dwpool dense scratch dispatch)
# FT_KERNELS=ref must force the reference kernels everywhere.
add_test(NAME nn.dispatch_ref COMMAND test_nn dispatch)
set_tests_properties(nn.dispatch_ref PROPERTIES LABELS unit ENVIRONMENT "FT_KERNELS=ref")
add_test(NAME nn.conv_layers_ref COMMAND test_nn conv_layers)
set_tests_properties(nn.conv_layers_ref PROPERTIES LABELS unit ENVIRONMENT "FT_KERNELS=ref")
add_test(NAME nn.sepconv_layers_ref COMMAND test_nn sepconv_layers)
set_tests_properties(nn.sepconv_layers_ref PROPERTIES LABELS unit ENVIRONMENT "FT_KERNELS=ref")
add_test(NAME nn.sepconv_chain_ref COMMAND test_nn sepconv_chain)
set_tests_properties(nn.sepconv_chain_ref PROPERTIES LABELS unit ENVIRONMENT "FT_KERNELS=ref")
