// Declarations shared by the frame-source files (source.c and one file per
// implementation); no other module includes this.
#ifndef FT_SOURCE_INTERNAL_H
#define FT_SOURCE_INTERNAL_H

#include "source/source.h"

#include <stddef.h>

// The implementations, in the order ft_source_open asks them (source.c).
extern const ft_source_ops ft_source__image_ops;
extern const ft_source_ops ft_source__ffmpeg_ops;

// `url` with any user[:password]@ in its authority replaced by "***@",
// written to `out` (always NUL-terminated, truncated to `cap`).
void ft_source__url_mask(const char *url, char *out, size_t cap);

// Replaces, in the NUL-terminated `msg` (buffer of `cap` bytes), every copy
// of `url`'s user[:password] by "***", so a message quoting the url (ours or
// FFmpeg's) never carries credentials. No-op for urls without them.
void ft_source__scrub(const char *url, char *msg, size_t cap);

#endif
