# Frame sources. The test videos are made at test time (tools/make_test_video.sh,
# ffmpeg CLI) in the build folder; the RTSP server (tests/tools/ft_rtsp_server.c,
# gst-rtsp-server) is built when pkg-config finds gstreamer-rtsp-server-1.0, the
# HTTP MJPEG/garbage server is a node script (tests/tools/ft_mjpeg_server.mjs).
ft_test_binary(test_source ${CMAKE_CURRENT_LIST_DIR}/test_source.c)
find_program(FT_NODE_EXE node)
target_compile_definitions(test_source PRIVATE
  FT_SOURCE_WORKDIR="${CMAKE_CURRENT_BINARY_DIR}"
  FT_SOURCE_MAKE_VIDEO="${CMAKE_SOURCE_DIR}/tools/make_test_video.sh"
  FT_SOURCE_TOOLS="${CMAKE_CURRENT_LIST_DIR}/../tools"
  FT_SOURCE_NODE="${FT_NODE_EXE}")
set(_ft_source_cases image file_frames file_pixels file_realtime file_errors oom v4l2_absent
  url_safe stop)

pkg_check_modules(FT_GST_RTSP IMPORTED_TARGET gstreamer-rtsp-server-1.0 gstreamer-app-1.0 gio-2.0)
if(FT_GST_RTSP_FOUND)
  # A test tool, not part of the product (GStreamer's headers come in as
  # system headers through the imported target, so -Werror does not reach them).
  add_executable(ft_rtsp_server ${CMAKE_CURRENT_LIST_DIR}/../tools/ft_rtsp_server.c)
  target_link_libraries(ft_rtsp_server PRIVATE PkgConfig::FT_GST_RTSP)
  target_compile_definitions(test_source PRIVATE
    FT_SOURCE_RTSP_SERVER="$<TARGET_FILE:ft_rtsp_server>")
  add_dependencies(test_source ft_rtsp_server)
  list(APPEND _ft_source_cases rtsp rtsp_udp rtsps)
endif()
if(FT_NODE_EXE)
  list(APPEND _ft_source_cases mjpeg_http garbage_stream stalled_stream)
endif()

ft_test_cases(test_source unit source ${_ft_source_cases})
foreach(c ${_ft_source_cases})
  set_tests_properties(source.${c} PROPERTIES TIMEOUT 180)
endforeach()
