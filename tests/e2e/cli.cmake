# The CLI end to end (tests/e2e/cli.mjs): the binary as a user runs it.
find_program(FT_NODE_CLI node)
if(FT_NODE_CLI)
  add_test(NAME e2e.cli COMMAND ${FT_NODE_CLI} ${CMAKE_CURRENT_LIST_DIR}/cli.mjs $<TARGET_FILE:facetracker>)
  set_tests_properties(e2e.cli PROPERTIES LABELS e2e TIMEOUT 300
    ENVIRONMENT "FT_ASSETS_DIR=${FT_ASSETS_DIR}")
endif()
