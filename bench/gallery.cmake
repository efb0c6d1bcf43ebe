add_executable(bench_gallery ${CMAKE_CURRENT_LIST_DIR}/bench_gallery.c)
target_link_libraries(bench_gallery PRIVATE ft)
add_test(NAME bench.gallery COMMAND bench_gallery quick)
set_tests_properties(bench.gallery PROPERTIES LABELS bench)
