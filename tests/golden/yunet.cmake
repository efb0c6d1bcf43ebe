# YuNet-s in our engine vs OpenCV 4.6 cv2.dnn on the same ONNX file (goldens
# made by tools/gen_yunet_goldens.py; tests/golden/README.md). The detector
# under test is YuNet (--detector yunet); the face-api goldens are elsewhere.
ft_test_binary(test_yunet ${CMAKE_CURRENT_LIST_DIR}/test_yunet.c)
foreach(f sample1 sample2 sample3 sample4 sample5 sample6 frame320x240 frame640x480
    frame333x257)
  ft_test_cases(test_yunet golden golden.yunet raw_${f} faces_${f})
endforeach()
