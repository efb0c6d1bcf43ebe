# End-to-end: the server launcher used by the browser tests (tests/e2e/*.mjs).
add_executable(e2e_server ${CMAKE_CURRENT_LIST_DIR}/e2e_server.c)
target_link_libraries(e2e_server PRIVATE ft)
