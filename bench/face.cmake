add_executable(bench_face ${CMAKE_CURRENT_LIST_DIR}/bench_face.c)
target_link_libraries(bench_face PRIVATE ft)
add_test(NAME bench.face COMMAND bench_face quick ${FT_ASSETS_DIR})
set_tests_properties(bench.face PROPERTIES LABELS bench)
