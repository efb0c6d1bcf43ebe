ft_test_binary(test_train ${CMAKE_CURRENT_LIST_DIR}/test_train.c)
ft_test_cases(test_train unit train grad_conv grad_dwconv grad_bias_act grad_gmaxpool grad_dense
  grad_losses grad_box_iou variants ref_f32_f64 adam_golden labelme_parse labelme_import labelme_bad model_grad
  model_train_determinism train_run_cache lr_schedule box_prior model_h5
  eval_draw_flip)
add_test(NAME train.cli_autolabel COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/train_cli.sh
  $<TARGET_FILE:facetracker>)
set_tests_properties(train.cli_autolabel PROPERTIES LABELS unit SKIP_RETURN_CODE 77
  ENVIRONMENT "FT_ASSETS_DIR=${FT_ASSETS_DIR}")
add_test(NAME train.cli_defaults COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/train_cli.sh
  $<TARGET_FILE:facetracker> defaults ${CMAKE_SOURCE_DIR})
set_tests_properties(train.cli_defaults PROPERTIES LABELS unit SKIP_RETURN_CODE 77
  ENVIRONMENT "FT_ASSETS_DIR=${FT_ASSETS_DIR}")
