add_executable(bench_nn ${CMAKE_CURRENT_LIST_DIR}/bench_nn.c)
target_link_libraries(bench_nn PRIVATE ft)
add_test(NAME bench.nn COMMAND bench_nn quick)
set_tests_properties(bench.nn PROPERTIES LABELS bench)
