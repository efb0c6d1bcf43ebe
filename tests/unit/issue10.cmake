# Issue 10 items found untested by the audit (tests/unit/test_issue10.c):
# the server applies retention itself; a decision on a full disk is 503
# E_STORE (tmpfs: root needed, 77 = skipped otherwise, a failure as root);
# so is one on a gallery file of mode 0444, and /readyz says it is read-only.
ft_test_binary(test_issue10 ${CMAKE_CURRENT_LIST_DIR}/test_issue10.c)
ft_test_cases(test_issue10 unit issue10 server_retention access_disk_full readonly_file)
set_tests_properties(issue10.access_disk_full PROPERTIES SKIP_RETURN_CODE 77)
