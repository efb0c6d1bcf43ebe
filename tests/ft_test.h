// The tiny test harness: each test binary lists its cases in a table and
// runs the one named on the command line (CTest gives each case its own
// entry), or all of them with no argument.
#ifndef FT_TEST_H
#define FT_TEST_H

#include "core/status.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int ft_test_failures;

#define FT_CHECK(cond)                                                     \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            ft_test_failures++;                                            \
        }                                                                  \
    } while (0)

// FT_CHECK_EQ(a, b): exact equality of two integers (any width or
// signedness, bool, enum), printing both values on failure. Signed and
// unsigned are compared by value, so -1 never equals UINT64_MAX.
// Floating-point and pointer arguments are a compile error: a cast to an
// integer would make FT_CHECK_EQ(0.3, 0.25) pass. Compare floats with
// FT_CHECK_NEAR (and a comment saying why that tolerance), or with
// FT_CHECK_DBL_EXACT where the bits must survive unchanged.
// The controlling expressions are (x) + 0: integer promotion turns bool,
// char, short, enums and bit-fields (which gcc types by their width) into
// int or unsigned int, leaves floats floating and pointers pointers.
#define FT_TEST__IS_INT(x)                                                 \
    _Generic((x) + 0, _Bool: 1, char: 1, signed char: 1, unsigned char: 1, short: 1,           \
             unsigned short: 1, int: 1, unsigned int: 1, long: 1, unsigned long: 1,       \
             long long: 1, unsigned long long: 1, default: 0)
#define FT_TEST__IS_FLOAT(x) _Generic((x) + 0, float: 1, double: 1, long double: 1, default: 0)
// Signed types convert to long long without changing value; unsigned int,
// long and long long take the unsigned path.
#define FT_TEST__INT(x)                                                    \
    _Generic((x) + 0, unsigned int: ft_test__int_u, unsigned long: ft_test__int_u,            \
             unsigned long long: ft_test__int_u, default: ft_test__int_s)(x)

typedef struct ft_test__int {
    bool neg;                 // the value is mag - 2^64 (only from a negative signed)
    unsigned long long mag;   // the value's two's complement bits
} ft_test__int;

static inline ft_test__int ft_test__int_s(long long v)
{
    ft_test__int r = {v < 0, (unsigned long long)v};
    return r;
}
static inline ft_test__int ft_test__int_u(unsigned long long v)
{
    ft_test__int r = {false, v};
    return r;
}
// Formats v as a decimal into buf[32]; returns buf.
const char *ft_test__int_str(ft_test__int v, char *buf);

#define FT_CHECK_EQ(a, b)                                                  \
    do {                                                                   \
        _Static_assert(FT_TEST__IS_INT(a) && FT_TEST__IS_INT(b),           \
                       "FT_CHECK_EQ(" #a ", " #b ") takes integers, bools and enums only: "  \
                       "use FT_CHECK_NEAR for floats or FT_CHECK_DBL_EXACT for exact bits"); \
        ft_test__int va_ = FT_TEST__INT(a), vb_ = FT_TEST__INT(b);         \
        if (va_.neg != vb_.neg || va_.mag != vb_.mag) {                    \
            char ba_[32], bb_[32];                                         \
            fprintf(stderr, "%s:%d: %s == %s failed: %s != %s\n", __FILE__, __LINE__, #a, #b, \
                    ft_test__int_str(va_, ba_), ft_test__int_str(vb_, bb_)); \
            ft_test_failures++;                                            \
        }                                                                  \
    } while (0)

// FT_CHECK_DBL_EXACT(a, b): a and b (float or double) have the same bits as
// doubles, e.g. a value stored in SQLite as a REAL and read back. Prints
// both with %.17g, which round-trips a double.
#define FT_CHECK_DBL_EXACT(a, b)                                           \
    do {                                                                   \
        _Static_assert(FT_TEST__IS_FLOAT(a) && FT_TEST__IS_FLOAT(b),       \
                       "FT_CHECK_DBL_EXACT(" #a ", " #b ") takes floating-point values only"); \
        double va_ = (double)(a), vb_ = (double)(b);                       \
        if (memcmp(&va_, &vb_, sizeof va_) != 0) {                         \
            fprintf(stderr, "%s:%d: %s == %s (exact) failed: %.17g != %.17g\n", __FILE__,   \
                    __LINE__, #a, #b, va_, vb_);                           \
            ft_test_failures++;                                            \
        }                                                                  \
    } while (0)

#define FT_CHECK_STREQ(a, b)                                               \
    do {                                                                   \
        const char *sa_ = (a), *sb_ = (b);                                 \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                       \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
                    #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");   \
            ft_test_failures++;                                            \
        }                                                                  \
    } while (0)

#define FT_CHECK_NEAR(a, b, tol)                                           \
    do {                                                                   \
        double va_ = (double)(a), vb_ = (double)(b), t_ = (double)(tol);   \
        if (!(fabs(va_ - vb_) <= t_)) {                                    \
            fprintf(stderr, "%s:%d: |%s - %s| <= %g failed: %.9g vs %.9g\n", __FILE__, \
                    __LINE__, #a, #b, t_, va_, vb_);                       \
            ft_test_failures++;                                            \
        }                                                                  \
    } while (0)

#define FT_CHECK_OK(expr, errp)                                            \
    do {                                                                   \
        ft_status st_ = (expr);                                            \
        if (st_ != FT_OK) {                                                \
            fprintf(stderr, "%s:%d: %s: %s (%s)\n", __FILE__, __LINE__, #expr, \
                    ft_status_str(st_), ft_err_msg((errp), st_));          \
            ft_test_failures++;                                            \
        }                                                                  \
    } while (0)

typedef struct ft_test_case {
    const char *name;
    void (*fn)(void);
} ft_test_case;

// Directory with fetched models and demo photos (FT_ASSETS_DIR env, else
// the build-time default).
const char *ft_test_assets(void);
// The project's tests/ directory.
const char *ft_test_srcdir(void);

// Mounts a tmpfs of `size` (e.g. "size=3m") on the existing directory
// `dir` for a full-file-system case named `what`. True when mounted. When
// not: removes `dir`, and as root (CI) counts a failure and returns false
// (the check did not run); otherwise exits 77, which CTest shows as skipped.
bool ft_test_mount_tmpfs(const char *dir, const char *size, const char *what);

int ft_test_main(int argc, char **argv, const ft_test_case *cases, size_t n_cases);

#define FT_TEST_MAIN(cases)                                                \
    int main(int argc, char **argv)                                        \
    {                                                                      \
        return ft_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]); \
    }

#endif
