// Growable buffer, JSON string escaping, whole-file read and atomic write.
#include "core/buf.h"

#include "core/mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ft_buf_init(ft_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->limit = limit;
}

void ft_buf_deinit(ft_buf *b)
{
    ft_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static ft_status grow(ft_buf *b, size_t extra)
{
    size_t need;
    if (!ft_size_add(b->len, extra, &need) || !ft_size_add(need, 1, &need))
        return FT_E_LIMIT;
    if (b->limit && need - 1 > b->limit)
        return FT_E_LIMIT;
    if (need <= b->cap)
        return FT_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return FT_E_LIMIT;
        cap *= 2;
    }
    uint8_t *p = ft_realloc(b->data, cap);
    if (!p)
        return FT_E_NOMEM;
    b->data = p;
    b->cap = cap;
    return FT_OK;
}

ft_status ft_buf_append(ft_buf *b, const void *p, size_t n)
{
    ft_status st = grow(b, n);
    if (st != FT_OK)
        return st;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return FT_OK;
}

ft_status ft_buf_puts(ft_buf *b, const char *s)
{
    return ft_buf_append(b, s, strlen(s));
}

ft_status ft_buf_printf(ft_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return FT_E_INTERNAL;
    ft_status st = grow(b, (size_t)n);
    if (st != FT_OK)
        return st;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return FT_OK;
}

ft_status ft_buf_json_str(ft_buf *b, const char *s)
{
    ft_status st = ft_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; st == FT_OK && *p; p++) {
        switch (*p) {
        case '"': st = ft_buf_puts(b, "\\\""); break;
        case '\\': st = ft_buf_puts(b, "\\\\"); break;
        case '\n': st = ft_buf_puts(b, "\\n"); break;
        case '\r': st = ft_buf_puts(b, "\\r"); break;
        case '\t': st = ft_buf_puts(b, "\\t"); break;
        default:
            if (*p < 0x20)
                st = ft_buf_printf(b, "\\u%04x", *p);
            else
                st = ft_buf_append(b, p, 1);
        }
    }
    if (st == FT_OK)
        st = ft_buf_append(b, "\"", 1);
    return st;
}

ft_status ft_buf_terminate(ft_buf *b)
{
    return ft_buf_append(b, "", 0);
}

ft_status ft_file_read(const char *path, size_t limit, ft_buf *b, ft_err *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    ft_status st = FT_OK;
    unsigned char chunk[65536];

    if (!f)
        return ft_err_set(err, errno == ENOENT ? FT_E_NOT_FOUND : FT_E_IO, "%s: %s", path,
                          strerror(errno));
    ft_buf_init(b, limit);
    for (;;) {
        size_t n = fread(chunk, 1, sizeof chunk, f);
        if (n > 0) {
            st = ft_buf_append(b, chunk, n);
            if (st == FT_E_LIMIT) {
                ft_err_set(err, st, "%s: larger than the limit of %zu bytes", path, limit);
                break;
            }
            if (st != FT_OK) {
                ft_err_set(err, st, "%s: %s", path, ft_status_str(st));
                break;
            }
        }
        if (n < sizeof chunk) {
            if (ferror(f))
                st = ft_err_set(err, FT_E_IO, "%s: read error", path);
            break;
        }
    }
    if (st == FT_OK)
        st = ft_buf_terminate(b);
    if (f != stdin)
        fclose(f);
    if (st != FT_OK)
        ft_buf_deinit(b);
    return st;
}

ft_status ft_file_write_atomic(const char *path, const void *p, size_t n, ft_err *err)
{
    size_t len = strlen(path);
    char *tmp = ft_malloc(len + 16);
    if (!tmp)
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    snprintf(tmp, len + 16, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        ft_status st = ft_err_set(err, FT_E_IO, "%s: %s", path, strerror(errno));
        ft_free(tmp);
        return st;
    }
    bool ok = fwrite(p, 1, n, f) == n;
    ok = (fflush(f) == 0) && ok;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        ft_status st = ft_err_set(err, FT_E_IO, "%s: cannot write: %s", path, strerror(errno));
        remove(tmp);
        ft_free(tmp);
        return st;
    }
    ft_free(tmp);
    return FT_OK;
}
