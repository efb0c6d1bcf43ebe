# Issue 10: administrative writes and their audit rows in one transaction
# (test_gallery_tx.c), on SQLite, and on PostgreSQL when gallery_pg.cmake
# (included before this file) set up its throwaway cluster.
ft_test_binary(test_gallery_tx ${CMAKE_CURRENT_LIST_DIR}/test_gallery_tx.c)
set(FT_GALLERY_TX_CASES person_add enroll rename_update delete keys settings entry_rules)
ft_test_cases(test_gallery_tx unit gallery_tx ${FT_GALLERY_TX_CASES})
if(FT_PG_INITDB AND _ft_pg_url)
  foreach(c ${FT_GALLERY_TX_CASES})
    add_test(NAME gallery_tx_pg.${c} COMMAND test_gallery_tx ${c})
    set_tests_properties(gallery_tx_pg.${c} PROPERTIES LABELS unit
      FIXTURES_REQUIRED gallery_pg
      ENVIRONMENT "FT_ASSETS_DIR=${FT_ASSETS_DIR};FT_TEST_GALLERY_URL=${_ft_pg_url}")
  endforeach()
endif()
