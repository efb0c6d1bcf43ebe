# Issue 10 items of the command line the audit found untested
# (tests/e2e/issue10_cli.sh): delete's question on a terminal (util-linux
# `script`), serve --verbose's request lines, --trusted-proxy, 429 after wrong keys, serve
# --tls-cert/--tls-key with HSTS (openssl), backup while a server enrols
# (curl), calibration targets above 1 %. A missing tool fails the test; it
# is never skipped.
add_test(NAME e2e.issue10_cli COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/issue10_cli.sh
  $<TARGET_FILE:facetracker> ${FT_ASSETS_DIR})
set_tests_properties(e2e.issue10_cli PROPERTIES LABELS e2e TIMEOUT 300)
