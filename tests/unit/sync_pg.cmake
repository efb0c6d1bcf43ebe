# The change feed and event spool of a PostgreSQL gallery (gallery/sync.h)
# on gallery_pg's throwaway cluster (its fixture starts and stops it).
if(NOT FT_PG_INITDB)
  return()
endif()
ft_test_binary(test_sync ${CMAKE_CURRENT_LIST_DIR}/test_sync.c)
add_test(NAME sync_pg.spool_replay COMMAND test_sync spool_replay)
set_tests_properties(sync_pg.spool_replay PROPERTIES LABELS unit
  FIXTURES_REQUIRED gallery_pg SKIP_RETURN_CODE 77
  ENVIRONMENT "FT_ASSETS_DIR=${FT_ASSETS_DIR};FT_TEST_GALLERY_URL=${_ft_pg_url}")
