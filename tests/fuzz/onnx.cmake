ft_fuzz_target(onnx ${CMAKE_CURRENT_LIST_DIR}/fuzz_onnx.c)
