// Tests of the test harness itself (tests/ft_test.h): FT_CHECK_EQ compares
// integers of any width and signedness by value and FT_CHECK_DBL_EXACT
// compares bits. The checks that must fail run with the failure counter
// saved and restored, so their messages on stderr are expected. With
// FT_SELFTEST_REJECT=1, 2 or 3 this file must not compile (a float, a
// pointer, an integer where a double is wanted): ft_test.cmake runs the
// compiler on it and looks for the message.
#include "ft_test.h"

#include <stdint.h>

enum small { SMALL_A = 1, SMALL_B = 2 };
enum neg { NEG_A = -3 };
struct bits {
    unsigned u3 : 3;
    int s4 : 4;
};

// Runs the failing checks of `fn` and returns how many failed, leaving
// ft_test_failures as it was.
static int count_failures(void (*fn)(void))
{
    int before = ft_test_failures;
    fn();
    int n = ft_test_failures - before;
    ft_test_failures = before;
    return n;
}

static void eq_mismatches(void)
{
    enum small e = SMALL_B;
    // Equal bits, different values: a cast to one type would pass these.
    FT_CHECK_EQ(-1, UINT64_MAX);
    FT_CHECK_EQ((int64_t)-1, (uint32_t)0xffffffffu);
    FT_CHECK_EQ(INT64_MIN, (uint64_t)1 << 63);
    FT_CHECK_EQ(e, SMALL_A);
    FT_CHECK_EQ((size_t)0, 1);
}

static void test_check_eq(void)
{
    enum small e = SMALL_B;
    enum neg n = NEG_A;
    bool t = true;
    char c = 'a';
    size_t z = 5;
    int64_t m = -7;
    struct bits b = {5, -2};
    FT_CHECK_EQ(e, SMALL_B);
    FT_CHECK_EQ(n, -3);
    FT_CHECK_EQ(t, true);
    FT_CHECK_EQ(c, 'a');
    FT_CHECK_EQ(z, 5);
    FT_CHECK_EQ(m, -7);
    FT_CHECK_EQ(UINT64_MAX, UINT64_MAX);
    FT_CHECK_EQ(INT64_MIN, INT64_MIN);
    FT_CHECK_EQ(b.u3, 5);
    FT_CHECK_EQ(b.s4, -2);
    FT_CHECK_EQ(FT_OK, 0);
    FT_CHECK_EQ(count_failures(eq_mismatches), 5);
}

static void dbl_mismatches(void)
{
    FT_CHECK_DBL_EXACT(0.1 + 0.2, 0.3);
    FT_CHECK_DBL_EXACT(0.0, -0.0);
    FT_CHECK_DBL_EXACT(0.1f, 0.1);
}

static void test_check_dbl_exact(void)
{
    FT_CHECK_DBL_EXACT(0.5f, 0.5);
    FT_CHECK_DBL_EXACT(1700000000.0, 1.7e9);
    FT_CHECK_EQ(count_failures(dbl_mismatches), 3);
}

#ifdef FT_SELFTEST_REJECT
static void rejected(void)
{
    static int x;
    (void)x;
#if FT_SELFTEST_REJECT == 1
    FT_CHECK_EQ(0.3, 0.25);
#elif FT_SELFTEST_REJECT == 2
    FT_CHECK_EQ(&x, &x);
#elif FT_SELFTEST_REJECT == 3
    FT_CHECK_DBL_EXACT(1, 1.0);
#endif
}
#endif

static const ft_test_case cases[] = {
    {"check_eq", test_check_eq},
    {"check_dbl_exact", test_check_dbl_exact},
#ifdef FT_SELFTEST_REJECT
    {"rejected", rejected},
#endif
};
FT_TEST_MAIN(cases)
