// Status text table and ft_err helpers.
#include "core/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ft_status_str(ft_status st)
{
    switch (st) {
#define FT_STATUS_CASE(name, text)                                         \
    case FT_##name:                                                        \
        return text;
        FT_STATUS_MAP(FT_STATUS_CASE)
#undef FT_STATUS_CASE
    default:
        return "unknown status";
    }
}

const char *ft_status_name(ft_status st)
{
    switch (st) {
#define FT_STATUS_CASE(name, text)                                         \
    case FT_##name:                                                        \
        return #name;
        FT_STATUS_MAP(FT_STATUS_CASE)
#undef FT_STATUS_CASE
    default:
        return "E_UNKNOWN";
    }
}

ft_status ft_err_set(ft_err *err, ft_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void ft_err_prefix(ft_err *err, const char *fmt, ...)
{
    char pre[256], old[sizeof err->msg];
    va_list ap;

    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    // Truncating an over-long message is the intended behaviour here.
#if defined(__GNUC__) && !defined(__clang__) // gcc's warning; clang has none by that name
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
    snprintf(err->msg, sizeof err->msg, "%s%s", pre, old);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
}

void ft_err_clear(ft_err *err)
{
    if (err) {
        err->code = FT_OK;
        err->msg[0] = '\0';
    }
}

const char *ft_err_msg(const ft_err *err, ft_status st)
{
    if (err && err->msg[0])
        return err->msg;
    return ft_status_str(st);
}

void ft_assert_fail(const char *file, int line, const char *cond)
{
    fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, cond);
    fflush(stderr);
    abort();
}
