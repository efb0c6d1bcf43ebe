# Many servers on one PostgreSQL, end to end (tests/e2e/pg_servers.mjs):
# two `facetracker serve` on a throwaway PostgreSQL 15 cluster of their
# own (tests/tools/pg_cluster.sh, on a loopback port derived from this
# build folder, next to gallery_pg's), enrol through one and identify
# through the other within 1 s, then the database stopped and started in
# the middle of a run of door decisions on both. Needs Debian's
# postgresql, psql and ffmpeg (setup.sh --test); skipped (77) otherwise.
find_program(FT_PG_SERVERS_INITDB initdb PATHS /usr/lib/postgresql/15/bin NO_DEFAULT_PATH)
find_program(FT_NODE_PG_SERVERS node)
if(NOT FT_PG_SERVERS_INITDB OR NOT FT_NODE_PG_SERVERS)
  message(STATUS "PostgreSQL 15 server or node not found: e2e.pg_servers skipped")
  return()
endif()
string(MD5 _ft_pgs_hash "${CMAKE_BINARY_DIR}/pg_servers")
string(SUBSTRING "${_ft_pgs_hash}" 0 4 _ft_pgs_hex)
# Below Linux's ephemeral range (32768-60999 by default): a port in it can be
# taken at any moment as the local end of some test's outgoing connection, and
# the cluster then fails to bind (seen once in make check: "Address already in
# use" on 47690). gallery_pg uses 20000-25999, this 26000-31999.
math(EXPR _ft_pgs_port "26000 + 0x${_ft_pgs_hex} % 6000")
add_test(NAME e2e.pg_servers COMMAND ${FT_NODE_PG_SERVERS} ${CMAKE_CURRENT_LIST_DIR}/pg_servers.mjs
  $<TARGET_FILE:facetracker> ${CMAKE_SOURCE_DIR}/tests/tools/pg_cluster.sh ${_ft_pgs_port})
set_tests_properties(e2e.pg_servers PROPERTIES LABELS e2e SKIP_RETURN_CODE 77 TIMEOUT 600
  ENVIRONMENT "FT_ASSETS_DIR=${FT_ASSETS_DIR}")
