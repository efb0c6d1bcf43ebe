// A growable byte buffer (for building JSON, reading files, HTTP bodies).
#ifndef FT_CORE_BUF_H
#define FT_CORE_BUF_H

#include "core/status.h"

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct ft_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t limit; // 0 = no limit; appends past it fail with FT_E_LIMIT
} ft_buf;

void ft_buf_init(ft_buf *b, size_t limit);
void ft_buf_deinit(ft_buf *b);
ft_status ft_buf_append(ft_buf *b, const void *p, size_t n);
ft_status ft_buf_puts(ft_buf *b, const char *s);
ft_status ft_buf_printf(ft_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Appends a JSON string literal (quoted, escaped) for `s`.
ft_status ft_buf_json_str(ft_buf *b, const char *s);
// Keeps data NUL-terminated (not counted in len).
ft_status ft_buf_terminate(ft_buf *b);

// Reads a whole file (or stdin for "-") into `b`, failing with FT_E_LIMIT
// past `limit` bytes (0 = none).
ft_status ft_file_read(const char *path, size_t limit, ft_buf *b, ft_err *err);
// Writes `n` bytes to `path` through a temporary file and rename, so a
// crash never leaves a half-written file.
ft_status ft_file_write_atomic(const char *path, const void *p, size_t n, ft_err *err);

#endif
