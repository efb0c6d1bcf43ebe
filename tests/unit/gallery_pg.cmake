# The gallery suite again on PostgreSQL 15 (issue 13): a fixture starts a
# throwaway cluster (tests/tools/pg_cluster.sh: initdb in /tmp, a non-root
# server user, 127.0.0.1 on a port derived from this build folder, trust
# auth), every case of gallery.cmake runs as gallery_pg.<case> with
# FT_TEST_GALLERY_URL pointing at it (each case in schemas of its own), and
# the cluster is stopped and removed at the end. Cases that only test
# SQLite's files exit 77 (skipped). Needs Debian's postgresql (setup.sh
# --test); without it the cases are not registered.
find_program(FT_PG_INITDB initdb PATHS /usr/lib/postgresql/15/bin NO_DEFAULT_PATH)
if(NOT FT_PG_INITDB)
  message(STATUS "PostgreSQL 15 server not found: gallery_pg tests skipped (tools/setup.sh --test)")
  return()
endif()
string(MD5 _ft_pg_hash "${CMAKE_BINARY_DIR}")
string(SUBSTRING "${_ft_pg_hash}" 0 4 _ft_pg_hex)
# Below the ephemeral range (32768-60999), where outgoing connections of other
# tests could hold the port (tests/e2e/pg_servers.cmake uses 26000-31999).
math(EXPR _ft_pg_port "20000 + 0x${_ft_pg_hex} % 6000")
set(FT_TEST_PG_PORT ${_ft_pg_port} CACHE STRING
    "Loopback port of the throwaway PostgreSQL cluster of the gallery_pg tests")
set(_ft_pg_dir /tmp/ft_pg_${FT_TEST_PG_PORT})
set(_ft_pg_url "postgresql://postgres@127.0.0.1:${FT_TEST_PG_PORT}/facetracker_test")

add_test(NAME gallery_pg.cluster_start
  COMMAND sh ${CMAKE_SOURCE_DIR}/tests/tools/pg_cluster.sh start ${_ft_pg_dir} ${FT_TEST_PG_PORT})
set_tests_properties(gallery_pg.cluster_start PROPERTIES LABELS unit
  FIXTURES_SETUP gallery_pg TIMEOUT 180)
add_test(NAME gallery_pg.cluster_stop
  COMMAND sh ${CMAKE_SOURCE_DIR}/tests/tools/pg_cluster.sh stop ${_ft_pg_dir} ${FT_TEST_PG_PORT})
set_tests_properties(gallery_pg.cluster_stop PROPERTIES LABELS unit
  FIXTURES_CLEANUP gallery_pg)
foreach(c ${FT_GALLERY_CASES})
  add_test(NAME gallery_pg.${c} COMMAND test_gallery ${c})
  set_tests_properties(gallery_pg.${c} PROPERTIES LABELS unit
    FIXTURES_REQUIRED gallery_pg SKIP_RETURN_CODE 77
    ENVIRONMENT "FT_ASSETS_DIR=${FT_ASSETS_DIR};FT_TEST_GALLERY_URL=${_ft_pg_url}")
endforeach()
