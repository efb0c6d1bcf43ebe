# DNS rebinding in Chromium (rebind.mjs): a page whose name is rebound to
# 127.0.0.1 calls the API on its own origin; the Host check must answer
# 421 to each request and nothing may change. Uses e2e_server from
# e2e.cmake; skipped (77) without Chromium or playwright-core.
find_program(FT_NODE_REBIND node)
if(FT_NODE_REBIND)
  add_test(NAME e2e.rebind COMMAND ${FT_NODE_REBIND} ${CMAKE_CURRENT_LIST_DIR}/rebind.mjs
    --server $<TARGET_FILE:e2e_server>)
  set_tests_properties(e2e.rebind PROPERTIES LABELS e2e SKIP_RETURN_CODE 77 TIMEOUT 300
    ENVIRONMENT "FT_ASSETS_DIR=${FT_ASSETS_DIR}")
endif()
