# The harness's own checks (tests/ft_test.h): run-time semantics, and that
# FT_CHECK_EQ refuses floats and pointers (and FT_CHECK_DBL_EXACT integers)
# at compile time: the compiler must fail on test_ft_test.c with each
# FT_SELFTEST_REJECT and print the macro's message.
ft_test_binary(test_ft_test ${CMAKE_CURRENT_LIST_DIR}/test_ft_test.c)
ft_test_cases(test_ft_test unit ft_test check_eq check_dbl_exact)
foreach(r 1 2 3)
  if(r EQUAL 3)
    set(msg "takes floating-point values only")
  else()
    set(msg "takes integers, bools and enums only")
  endif()
  add_test(NAME ft_test.rejects_${r}
    COMMAND ${CMAKE_C_COMPILER} -std=gnu11 -fsyntax-only -DFT_SELFTEST_REJECT=${r}
      -I${CMAKE_SOURCE_DIR}/tests -I${CMAKE_SOURCE_DIR}/src
      ${CMAKE_CURRENT_LIST_DIR}/test_ft_test.c)
  set_tests_properties(ft_test.rejects_${r} PROPERTIES LABELS unit
    PASS_REGULAR_EXPRESSION "${msg}")
endforeach()
