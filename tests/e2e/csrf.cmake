# Cross-site requests from a second loopback origin in Chromium (csrf.mjs):
# refused, gallery unchanged, the page itself still works. Uses e2e_server
# and e2e_assets from e2e.cmake; skipped (77) without Chromium or
# playwright-core.
find_program(FT_NODE node) # also in e2e.cmake, which sorts after this file
if(FT_NODE)
  add_test(NAME e2e.csrf COMMAND ${FT_NODE} ${CMAKE_CURRENT_LIST_DIR}/csrf.mjs
    --server $<TARGET_FILE:e2e_server> --assets-tool $<TARGET_FILE:e2e_assets>)
  set_tests_properties(e2e.csrf PROPERTIES LABELS e2e SKIP_RETURN_CODE 77 TIMEOUT 300
    ENVIRONMENT "FT_ASSETS_DIR=${FT_ASSETS_DIR}")
endif()
