# The door end to end (tests/e2e/door.mjs): watch on test videos, an RTSP
# camera cut and restarted (ft_rtsp_server, built by tests/unit/source.cmake
# when gst-rtsp-server is there; skipped otherwise), a webhook receiver,
# Debian's mosquitto broker, the door hook, and serve with cameras.
find_program(FT_NODE_DOOR node)
if(FT_NODE_DOOR)
  add_test(NAME e2e.door COMMAND ${FT_NODE_DOOR} ${CMAKE_CURRENT_LIST_DIR}/door.mjs
    $<TARGET_FILE:facetracker> ${CMAKE_BINARY_DIR}/tests/ft_rtsp_server)
  set_tests_properties(e2e.door PROPERTIES LABELS e2e SKIP_RETURN_CODE 77 TIMEOUT 600
    ENVIRONMENT "FT_ASSETS_DIR=${FT_ASSETS_DIR}")
endif()
