# Data safety end to end (issue 10): the CLI's safety commands as a script
# runs them (tests/e2e/safety_cli.sh), and the page's enrolment, settings
# and audit flows in Chromium (tests/e2e/safety_page.mjs; skipped, exit 77,
# without Chromium or playwright-core).
add_test(NAME e2e.safety_cli COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/safety_cli.sh
  $<TARGET_FILE:facetracker> ${FT_ASSETS_DIR})
set_tests_properties(e2e.safety_cli PROPERTIES LABELS e2e TIMEOUT 300)
find_program(FT_NODE_SAFETY node)
if(FT_NODE_SAFETY)
  add_test(NAME e2e.safety_page COMMAND ${FT_NODE_SAFETY} ${CMAKE_CURRENT_LIST_DIR}/safety_page.mjs
    --server $<TARGET_FILE:e2e_server> --out ${CMAKE_BINARY_DIR}/e2e)
  set_tests_properties(e2e.safety_page PROPERTIES LABELS e2e SKIP_RETURN_CODE 77 TIMEOUT 300
    ENVIRONMENT "FT_ASSETS_DIR=${FT_ASSETS_DIR}")
endif()
