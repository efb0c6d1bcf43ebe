# The ONNX reader and its mapping onto the engine (tests/unit/test_onnx.c).
ft_test_binary(test_onnx ${CMAKE_CURRENT_LIST_DIR}/test_onnx.c)
ft_test_cases(test_onnx unit onnx
  yunet_parse limits truncated tensor_types unsupported run_conv_bn_dw run_heads
  run_upsample_misc oom yunet_sha bands profile)
