# src/deliver and the gallery's outbox: see tests/unit/test_deliver.c. The
# webhook, MQTT and hook cases start their own receivers on 127.0.0.1
# (libmicrohttpd, /usr/sbin/mosquitto, a shell script).
ft_test_binary(test_deliver ${CMAKE_CURRENT_LIST_DIR}/test_deliver.c)
ft_test_cases(test_deliver unit deliver
  event_fields event_json outbox_store outbox_crash hmac split_argv
  webhook webhook_restart mqtt mqtt_late_broker mqtt_will hook hook_timeout
  hook_isolated)
foreach(c webhook webhook_restart mqtt mqtt_late_broker mqtt_will hook hook_timeout
    hook_isolated)
  set_tests_properties(deliver.${c} PROPERTIES TIMEOUT 90)
endforeach()
