// Test runner shared by every test binary.
#include "ft_test.h"

#include <errno.h>
#include <sys/mount.h>
#include <unistd.h>

int ft_test_failures = 0;

const char *ft_test__int_str(ft_test__int v, char *buf)
{
    if (v.neg)
        snprintf(buf, 32, "-%llu", 0ULL - v.mag);
    else
        snprintf(buf, 32, "%llu", v.mag);
    return buf;
}

const char *ft_test_assets(void)
{
    const char *e = getenv("FT_ASSETS_DIR");
    return e && *e ? e : FT_DEFAULT_ASSETS_DIR;
}

const char *ft_test_srcdir(void)
{
    return FT_TESTS_SRCDIR;
}

bool ft_test_mount_tmpfs(const char *dir, const char *size, const char *what)
{
    if (mount("tmpfs", dir, "tmpfs", 0, size) == 0)
        return true;
    int e = errno;
    rmdir(dir);
    fprintf(stderr, "%s: %s: cannot mount a tmpfs (%s)\n", what,
            geteuid() == 0 ? "FAILED, as root" : "SKIPPED", strerror(e));
    if (geteuid() != 0)
        exit(77);
    ft_test_failures++;
    return false;
}

int ft_test_main(int argc, char **argv, const ft_test_case *cases, size_t n_cases)
{
    int ran = 0;
    for (size_t i = 0; i < n_cases; i++) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
            continue;
        int before = ft_test_failures;
        cases[i].fn();
        fprintf(stderr, "%s: %s\n", cases[i].name, ft_test_failures == before ? "ok" : "FAILED");
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "(none)");
        return 2;
    }
    return ft_test_failures ? 1 : 0;
}
