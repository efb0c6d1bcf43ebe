ft_test_binary(test_http ${CMAKE_CURRENT_LIST_DIR}/test_http.c)
ft_test_cases(test_http unit http multipart multipart_oom router metrics core_routes core_auth
  core_limits core_slow_headers core_busy core_stop app_static app_prediction app_people
  app_enrol app_keys app_bind app_loading app_trained core_origin core_key_limit core_log core_proxy
  app_origin app_log app_tls app_safety_settings app_settings_spaces app_safety_enrol app_safety_storage
  app_default_detector)
# app_safety_storage mounts a tmpfs (77 when not root), app_tls needs the openssl
# CLI (77 without it): skipped, and shown as such, instead of passing.
set_tests_properties(http.app_safety_storage http.app_tls PROPERTIES SKIP_RETURN_CODE 77)
