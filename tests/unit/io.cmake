ft_test_binary(test_io ${CMAKE_CURRENT_LIST_DIR}/test_io.c)
ft_test_cases(test_io unit io sniff jpeg_rgb jpeg_grey jpeg_cmyk jpeg_exif exif_parse orient
  png_variants webp heic ppm bad_corpus limits stdin oom sample_photos encode_roundtrip crop draw
  draw_text)
