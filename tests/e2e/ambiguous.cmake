# "Ambiguous" names both people in the access answer, the access log and
# the page's Reason cell (ambiguous.mjs, Chromium). Uses e2e_server and
# e2e_assets from e2e.cmake; skipped (77) without Chromium or playwright-core.
find_program(FT_NODE_AMBIGUOUS node)
if(FT_NODE_AMBIGUOUS)
  add_test(NAME e2e.ambiguous COMMAND ${FT_NODE_AMBIGUOUS} ${CMAKE_CURRENT_LIST_DIR}/ambiguous.mjs
    --server $<TARGET_FILE:e2e_server> --assets-tool $<TARGET_FILE:e2e_assets>)
  set_tests_properties(e2e.ambiguous PROPERTIES LABELS e2e SKIP_RETURN_CODE 77 TIMEOUT 300
    ENVIRONMENT "FT_ASSETS_DIR=${FT_ASSETS_DIR}")
endif()
