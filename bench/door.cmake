add_executable(bench_door ${CMAKE_CURRENT_LIST_DIR}/bench_door.c)
target_link_libraries(bench_door PRIVATE ft)
target_compile_definitions(bench_door PRIVATE
  FT_MAKE_VIDEO="${CMAKE_SOURCE_DIR}/tools/make_test_video.sh")
