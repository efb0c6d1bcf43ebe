# The gallery at scale (issue 13, item 6): bench/scale.sh runs it over
# 10k/100k/1M rows and a throwaway PostgreSQL cluster. The CTest entry is a
# quick search-only run (10k rows; every answer of the int8 index compared
# with the float search).
add_executable(bench_scale ${CMAKE_CURRENT_LIST_DIR}/bench_scale.c)
target_link_libraries(bench_scale PRIVATE ft)
add_test(NAME bench.scale COMMAND bench_scale search 10000)
set_tests_properties(bench.scale PROPERTIES LABELS bench)
