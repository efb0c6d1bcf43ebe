# Data safety (issue 10): policy bounds and confirmation, audit, enrolment
# screening, retention and erasure, storage faults, backup and restore.
ft_test_binary(test_safety ${CMAKE_CURRENT_LIST_DIR}/test_safety.c)
ft_test_cases(test_safety unit safety
  policy_bounds policy_confirm policy_person_cap policy_spaces calibrate_confirm audit_trail enroll_screen names_digits
  retention erase writable_probe backup_concurrent restore crash_kill9 disk_full)
# disk_full mounts a tmpfs: 77 (skipped, shown as such) when not root.
set_tests_properties(safety.disk_full PROPERTIES SKIP_RETURN_CODE 77)
