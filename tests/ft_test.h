// The tiny test harness: each test binary lists its cases in a table and
// runs the one named on the command line (CTest gives each case its own
// entry), or all of them with no argument.
#ifndef FT_TEST_H
#define FT_TEST_H

#include "core/status.h"

#include <math.h>
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

#define FT_CHECK_EQ(a, b)                                                  \
    do {                                                                   \
        long long va_ = (long long)(a), vb_ = (long long)(b);              \
        if (va_ != vb_) {                                                  \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, \
                    #b, va_, vb_);                                         \
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

int ft_test_main(int argc, char **argv, const ft_test_case *cases, size_t n_cases);

#define FT_TEST_MAIN(cases)                                                \
    int main(int argc, char **argv)                                        \
    {                                                                      \
        return ft_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]); \
    }

#endif
