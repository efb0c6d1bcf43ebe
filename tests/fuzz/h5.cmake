ft_fuzz_target(h5 ${CMAKE_CURRENT_LIST_DIR}/fuzz_h5.c)
# Small valid seeds written by our own writer (see make_h5_seeds.c).
if(FT_FUZZ)
  add_executable(make_h5_seeds ${CMAKE_CURRENT_LIST_DIR}/make_h5_seeds.c)
  target_link_libraries(make_h5_seeds PRIVATE ft_test)
endif()
