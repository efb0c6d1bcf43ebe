# End-to-end tests: the page in Debian's Chromium, driven by playwright-core
# (tests/e2e/package.json; `npm ci --prefix tests/e2e` installs it), against
# the server started by e2e_server on 127.0.0.1 with a free port. Skipped
# (exit 77) when Chromium or playwright-core is missing.
add_executable(e2e_server ${CMAKE_CURRENT_LIST_DIR}/e2e_server.c)
target_link_libraries(e2e_server PRIVATE ft)
add_executable(e2e_assets ${CMAKE_CURRENT_LIST_DIR}/e2e_assets.c)
target_link_libraries(e2e_assets PRIVATE ft)
find_program(FT_NODE node)
if(FT_NODE)
  add_test(NAME e2e.browser COMMAND ${FT_NODE} ${CMAKE_CURRENT_LIST_DIR}/browser.mjs
    --server $<TARGET_FILE:e2e_server> --assets-tool $<TARGET_FILE:e2e_assets>
    --out ${CMAKE_BINARY_DIR}/e2e)
  set_tests_properties(e2e.browser PROPERTIES LABELS e2e SKIP_RETURN_CODE 77 TIMEOUT 300
    ENVIRONMENT "FT_ASSETS_DIR=${FT_ASSETS_DIR}")
endif()
