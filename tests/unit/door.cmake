ft_test_binary(test_door ${CMAKE_CURRENT_LIST_DIR}/test_door.c)
# Association and option checks need no network.
ft_test_cases(test_door unit door iou associate_motion associate_descriptor_gate opts_check
  defaults)
# The rest run the SSD (default_runs_yunet: YuNet), landmark and descriptor
# networks on real photos for several frames each: label `slow` too, which
# the TSan job (Debug, -O0, ~10x) leaves out; they are single-threaded, so
# TSan has nothing to find.
set(_ft_door_net_cases still_one_event_per_face stream_k_of_n stream_strangers_not_merged
  granted_face_replaced gate_reason_and_fail_closed ambiguous_names_both detect_every
  faceres_box_only default_runs_yunet single_names_detector)
ft_test_cases(test_door unit door ${_ft_door_net_cases})
foreach(c ${_ft_door_net_cases})
  set_tests_properties(door.${c} PROPERTIES LABELS "unit;slow")
endforeach()
set_tests_properties(door.faceres_box_only PROPERTIES SKIP_RETURN_CODE 77) # no faceres weights
