// Status codes and the error detail buffer: how every fallible call in
// facetracker reports failure. One X-macro table generates the enum and
// ft_status_str(), so the two never drift apart.
#ifndef FT_CORE_STATUS_H
#define FT_CORE_STATUS_H

#include <stdarg.h>
#include <stddef.h>

#define FT_STATUS_MAP(X)                                                   \
    X(OK, "ok")                                                            \
    X(E_NOMEM, "out of memory")                                            \
    X(E_IO, "input/output error")                                          \
    X(E_FORMAT, "malformed input")                                         \
    X(E_LIMIT, "limit exceeded")                                           \
    X(E_UNSUPPORTED, "unsupported")                                        \
    X(E_NOT_FOUND, "not found")                                            \
    X(E_INVALID, "invalid argument")                                       \
    X(E_EXISTS, "already exists")                                          \
    X(E_BUSY, "busy")                                                      \
    X(E_DB, "database error")                                              \
    X(E_NO_FACE, "no face found")                                          \
    X(E_MANY_FACES, "more than one face")                                  \
    X(E_QUALITY, "face below the quality gate")                            \
    X(E_AUTH, "not authorised")                                            \
    X(E_INTERNAL, "internal error")                                        \
    X(E_CONFIRM, "needs confirmation")

typedef enum ft_status {
#define FT_STATUS_ENUM(name, text) FT_##name,
    FT_STATUS_MAP(FT_STATUS_ENUM)
#undef FT_STATUS_ENUM
        FT_STATUS_COUNT_
} ft_status;

// Static English text for a status; never NULL.
const char *ft_status_str(ft_status st);

// Short stable identifier ("E_FORMAT"), for JSON error codes.
const char *ft_status_name(ft_status st);

// Optional detail for a failure. Callers own it (usually on the stack);
// functions that fail fill it if it is non-NULL.
typedef struct ft_err {
    ft_status code;
    char msg[512];
} ft_err;

// Records `code` and a printf-style message in `err` (if non-NULL) and
// returns `code`, so a failure reads `return ft_err_set(err, FT_E_FORMAT, ...)`.
ft_status ft_err_set(ft_err *err, ft_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Prefixes the message already in `err` with more context ("file.json: ").
void ft_err_prefix(ft_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Empties `err`.
void ft_err_clear(ft_err *err);

// The message if there is one, else the status text.
const char *ft_err_msg(const ft_err *err, ft_status st);

#define FT_ASSERT(cond)                                                    \
    do {                                                                   \
        if (!(cond))                                                       \
            ft_assert_fail(__FILE__, __LINE__, #cond);                     \
    } while (0)
#ifdef NDEBUG
#define FT_DASSERT(cond) ((void)0)
#else
#define FT_DASSERT(cond) FT_ASSERT(cond)
#endif

_Noreturn void ft_assert_fail(const char *file, int line, const char *cond);

#endif
