// Unit tests for src/core: status table, buffers, arena, pool, SHA-256,
// mirrored rings.
#include "core/arena.h"
#include "core/buf.h"
#include "core/mem.h"
#include "core/pool.h"
#include "core/sha256.h"
#include "ft_test.h"

#include <stdatomic.h>
#include <string.h>

static void test_status(void)
{
    FT_CHECK_STREQ(ft_status_str(FT_OK), "ok");
    FT_CHECK_STREQ(ft_status_name(FT_E_FORMAT), "E_FORMAT");
    ft_err e;
    FT_CHECK_EQ(ft_err_set(&e, FT_E_IO, "x %d", 3), FT_E_IO);
    FT_CHECK_STREQ(e.msg, "x 3");
    ft_err_prefix(&e, "f.json: ");
    FT_CHECK_STREQ(e.msg, "f.json: x 3");
    FT_CHECK_EQ(ft_err_set(NULL, FT_E_LIMIT, "ignored"), FT_E_LIMIT);
}

static void test_sha256(void)
{
    // FIPS 180-4 example vectors ("abc" and the 448-bit message) and the
    // empty string, as published in NIST's SHA examples.
    char hex[65];
    ft_sha256_hex("abc", 3, hex);
    FT_CHECK_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ft_sha256_hex("", 0, hex);
    FT_CHECK_STREQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ft_sha256_hex(m, strlen(m), hex);
    FT_CHECK_STREQ(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_buf(void)
{
    ft_buf b;
    ft_buf_init(&b, 8);
    FT_CHECK_EQ(ft_buf_puts(&b, "1234"), FT_OK);
    FT_CHECK_EQ(ft_buf_puts(&b, "56789"), FT_E_LIMIT);
    FT_CHECK_EQ(b.len, 4);
    ft_buf_deinit(&b);
    ft_buf_init(&b, 0);
    FT_CHECK_EQ(ft_buf_json_str(&b, "a\"b\\\n\x01"), FT_OK);
    FT_CHECK_STREQ((const char *)b.data, "\"a\\\"b\\\\\\n\\u0001\"");
    ft_buf_deinit(&b);
}

static void test_arena(void)
{
    ft_arena a;
    FT_CHECK_EQ(ft_arena_init(&a, 1024), FT_OK);
    void *p = ft_arena_alloc(&a, 10), *q = ft_arena_alloc(&a, 10);
    FT_CHECK(p && q && ((uintptr_t)p % FT_ALIGN) == 0 && ((uintptr_t)q % FT_ALIGN) == 0);
    FT_CHECK(ft_arena_alloc(&a, 2000) == NULL);
    ft_arena_reset(&a);
    FT_CHECK(ft_arena_alloc(&a, 10) == p);
    ft_arena_deinit(&a);
}

static void test_size_math(void)
{
    size_t r = 7;
    FT_CHECK(!ft_size_mul(SIZE_MAX / 2, 3, &r));
    FT_CHECK_EQ(r, 7);
    FT_CHECK(ft_size_mul(1000, 1000, &r) && r == 1000000);
    FT_CHECK(!ft_size_add(SIZE_MAX, 1, &r));
}

static void test_mem_fail(void)
{
    ft_mem_fail_after(1);
    void *a = ft_malloc(1), *b = ft_malloc(1), *c = ft_malloc(1);
    ft_mem_fail_after(-1);
    FT_CHECK(a != NULL && b == NULL && c != NULL);
    ft_free(a);
    ft_free(c);
}

// A ring reads and writes the same memory at p[i], p[i + bytes] and, for
// the first page, p[i + 2 * bytes]; sizes that are not whole pages, and an
// injected allocation failure, get NULL.
static void test_mirror(void)
{
    size_t page = ft_page_bytes(), bytes = 3 * page;
    FT_CHECK(page >= 4096 && (page & (page - 1)) == 0);
    FT_CHECK(ft_mirror_alloc(0) == NULL);
    FT_CHECK(ft_mirror_alloc(page + 64) == NULL);
    ft_mem_fail_after(0);
    FT_CHECK(ft_mirror_alloc(bytes) == NULL);
    ft_mem_fail_after(-1);
#ifdef __linux__
    unsigned char *p = ft_mirror_alloc(bytes);
    FT_CHECK(p != NULL);
    if (!p)
        return;
    for (size_t i = 0; i < bytes; i++)
        p[i] = (unsigned char)(i * 7 + i / 251);
    size_t bad = 0;
    for (size_t i = 0; i < bytes + page; i++)
        bad += p[bytes + i] != (unsigned char)((i % bytes) * 7 + (i % bytes) / 251);
    FT_CHECK_EQ(bad, 0);
    // Written through the second view, read through the first.
    memset(p + bytes + page - 8, 0xA5, 16);
    size_t j = page + 8;
    FT_CHECK(p[page - 8] == 0xA5 && p[page + 7] == 0xA5);
    FT_CHECK_EQ(p[j], (unsigned char)(j * 7 + j / 251));
    FT_CHECK(p[2 * bytes + 7] == p[7]);
    ft_mirror_free(p, bytes);
#endif
}

typedef struct {
    atomic_long sum;
    long n;
} sum_job;

static void sum_slice(void *ctx, int ith, int nth)
{
    sum_job *j = ctx;
    long lo, hi, s = 0;
    ft_pool_range(j->n, ith, nth, &lo, &hi);
    for (long i = lo; i < hi; i++)
        s += i;
    atomic_fetch_add(&j->sum, s);
}

static void test_pool(void)
{
    for (int n = 1; n <= 4; n++) {
        ft_pool *p;
        FT_CHECK_EQ(ft_pool_new(n, &p), FT_OK);
        for (int rep = 0; rep < 100; rep++) {
            sum_job j = {0, 1000 + rep};
            ft_pool_run(p, sum_slice, &j);
            FT_CHECK_EQ(atomic_load(&j.sum), (long)(j.n * (j.n - 1) / 2));
        }
        ft_pool_free(p);
    }
}

static const ft_test_case cases[] = {
    {"status", test_status}, {"sha256", test_sha256}, {"buf", test_buf},
    {"arena", test_arena},   {"size_math", test_size_math}, {"mem_fail", test_mem_fail},
    {"pool", test_pool},     {"mirror", test_mirror},
};
FT_TEST_MAIN(cases)
