# faceres descriptor speed (issue 12: <= 12 ms per face on one core), next
# to face-api's ResNet descriptor in the same run; validated against the
# tfjs goldens before timing.
add_executable(bench_faceres ${CMAKE_CURRENT_LIST_DIR}/bench_faceres.c)
target_link_libraries(bench_faceres PRIVATE ft)
target_compile_definitions(bench_faceres PRIVATE FT_BENCH_ASSETS="${FT_ASSETS_DIR}"
  FT_BENCH_TESTS="${CMAKE_SOURCE_DIR}/tests")
add_test(NAME bench.faceres COMMAND bench_faceres ${FT_ASSETS_DIR} ${CMAKE_SOURCE_DIR}/tests --runs 11)
set_tests_properties(bench.faceres PROPERTIES LABELS bench)
