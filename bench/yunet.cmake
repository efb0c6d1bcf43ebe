# YuNet-s in our engine vs OpenCV 4.6 cv2.dnn, one thread (bench_yunet.c).
add_executable(bench_yunet ${CMAKE_CURRENT_LIST_DIR}/bench_yunet.c)
target_link_libraries(bench_yunet PRIVATE ft)
target_compile_definitions(bench_yunet PRIVATE FT_BENCH_ASSETS_DIR="${FT_ASSETS_DIR}")
add_test(NAME bench.yunet COMMAND bench_yunet quick)
set_tests_properties(bench.yunet PROPERTIES LABELS bench)
