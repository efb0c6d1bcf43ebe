# YuNet-s in our engine vs OpenCV 4.6 cv2.dnn on the same ONNX file (goldens
# made by tools/gen_yunet_goldens.py; tests/golden/README.md). The detector
# under test is YuNet (--detector yunet); the face-api goldens are elsewhere.
ft_test_binary(test_yunet ${CMAKE_CURRENT_LIST_DIR}/test_yunet.c)
foreach(f sample1 sample2 sample3 sample4 sample5 sample6 frame320x240 frame640x480
    frame333x257)
  ft_test_cases(test_yunet golden golden.yunet raw_${f} faces_${f})
endforeach()
ft_test_cases(test_yunet golden golden.yunet reduced coarse landmark_box)

# The CLI end to end with --detector yunet: five keypoints per face in the
# JSON, and `model info` on the ONNX file.
add_test(NAME golden.yunet.cli_detect_keypoints
  COMMAND facetracker detect --detector yunet ${FT_ASSETS_DIR}/demo/sample1.jpg)
set_tests_properties(golden.yunet.cli_detect_keypoints PROPERTIES LABELS golden
  PASS_REGULAR_EXPRESSION "\"score\": 0\\.93[0-9]*, \"keypoints\": \\[\\[[-0-9.e]+, [-0-9.e]+\\], \\[[-0-9.e]+, [-0-9.e]+\\], \\[[-0-9.e]+, [-0-9.e]+\\], \\[[-0-9.e]+, [-0-9.e]+\\], \\[[-0-9.e]+, [-0-9.e]+\\]\\]")
add_test(NAME golden.yunet.cli_model_info
  COMMAND facetracker model info ${CMAKE_SOURCE_DIR}/models/yunet/yunet_s_640_640.onnx)
set_tests_properties(golden.yunet.cli_model_info PROPERTIES LABELS golden
  PASS_REGULAR_EXPRESSION "\"ops\": {\"Conv\": 53, \"Relu\": 15, \"MaxPool\": 4, \"Resize\": 2, \"Add\": 2, \"Transpose\": 12, \"Reshape\": 12, \"Sigmoid\": 6}, \"nodes\": 106, \"initializers\": 112, \"params\": 53121, \"engine\": {\"supported\": true}")
add_test(NAME golden.yunet.cli_bad_detector
  COMMAND facetracker detect --detector yolo ${FT_ASSETS_DIR}/demo/sample1.jpg)
set_tests_properties(golden.yunet.cli_bad_detector PROPERTIES LABELS golden WILL_FAIL TRUE)
