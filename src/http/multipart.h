// multipart/form-data bodies (RFC 7578 over RFC 2046 §5.1), parsed from
// memory: the boundary comes from the request's Content-Type, each part's
// headers give its field name, optional file name and Content-Type, and its
// data is a borrowed slice of the body. Used by the upload endpoints
// (`fileImg` of POST /api/prediction, photos for enrolment).
#ifndef FT_HTTP_MULTIPART_H
#define FT_HTTP_MULTIPART_H

#include "core/status.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ft_multipart_limits {
    size_t max_parts;        // default 32
    size_t max_header_bytes; // one part's header block; default 8 KiB
    size_t max_body_bytes;   // whole body; default 16 MiB
} ft_multipart_limits;

ft_multipart_limits ft_multipart_limits_default(void);

typedef struct ft_multipart_part {
    const char *name;         // the Content-Disposition name ("" if absent)
    const char *filename;     // NULL when the part is not a file
    const char *content_type; // NULL when absent
    const uint8_t *data;      // borrowed from the body given to the parser
    size_t len;
} ft_multipart_part;

// Parts in body order. Strings are owned by the struct; `data` points
// into the caller's body, which must outlive the struct.
typedef struct ft_multipart {
    ft_multipart_part *parts;
    size_t n_parts;
    char *strings; // one block for every name/filename/content_type
} ft_multipart;

// Extracts the boundary from a Content-Type value
// ("multipart/form-data; boundary=xyz", the parameter possibly quoted)
// into `out` (NUL-terminated; at most 70 characters per RFC 2046).
// FT_E_UNSUPPORTED when the type is not multipart/form-data, FT_E_FORMAT
// when the boundary is missing or malformed.
ft_status ft_multipart_boundary(const char *content_type, char out[71], ft_err *err);

// Parses `body` (of `len` bytes). Preamble and epilogue are ignored; the
// closing delimiter ("--boundary--") is required, so a truncated body is
// FT_E_FORMAT with a message saying so. Errors: FT_E_UNSUPPORTED (not
// multipart/form-data), FT_E_FORMAT (malformed), FT_E_LIMIT (too many
// parts, headers or bytes), FT_E_NOMEM. `*out` is written only on success
// and released with ft_multipart_deinit. Thread-safe (no shared state).
ft_status ft_multipart_parse(const uint8_t *body, size_t len, const char *content_type,
                             const ft_multipart_limits *lim, ft_multipart *out, ft_err *err);

void ft_multipart_deinit(ft_multipart *m);

// The first part named `name`, or NULL.
const ft_multipart_part *ft_multipart_find(const ft_multipart *m, const char *name);

#endif
