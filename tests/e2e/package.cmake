# The .deb (CPack, see the top CMakeLists.txt) built, unpacked into a
# scratch root with dpkg -x and run from there: tests/e2e/package_deb.sh.
# Label `package` (in `make check`'s release run, not under ASan).
add_test(NAME package.deb COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/package_deb.sh ${CMAKE_BINARY_DIR}
  ${CMAKE_BINARY_DIR}/package-test ${FT_ASSETS_DIR}/demo/sample1.jpg)
set_tests_properties(package.deb PROPERTIES LABELS package SKIP_RETURN_CODE 77 TIMEOUT 120
  RUN_SERIAL TRUE)
