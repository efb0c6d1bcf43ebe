add_executable(bench_train ${CMAKE_CURRENT_LIST_DIR}/bench_train.c)
target_link_libraries(bench_train PRIVATE ft)
add_test(NAME bench.train COMMAND bench_train --steps 5)
set_tests_properties(bench.train PROPERTIES LABELS bench)
