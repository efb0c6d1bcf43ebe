// The door hook: runs the configured command for each granted event, with
// the event in its environment, and counts exit status 0 as delivered.
// The command line is split into words here (ft_deliver__split_argv) and
// started with posix_spawnp: no shell, so nothing in an event (a name with
// quotes or $(...)) is ever interpreted. The child runs in its own process
// group, with stdin and stdout on /dev/null, stderr inherited (the
// service's log) and no other inherited descriptors; past the time limit
// the whole group gets SIGKILL. A row older than hook_max_age_s (by the
// event's decision time) is given up without running: a door must not
// open for someone long gone.
//
// Environment: PATH (the service's, else a default) and FT_EVENT_JSON,
// FT_EVENT_ID, FT_EVENT_UID, FT_SOURCE, FT_TRACK, FT_DECISION, FT_REASON,
// FT_PERSON_ID, FT_PERSON_NAME, FT_DISTANCE. Values not recorded are "".
#define _GNU_SOURCE // posix_spawn_file_actions_addclosefrom_np
#include "deliver/deliver_internal.h"

#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

typedef struct hook {
    char **argv; // ft_deliver__split_argv block
    size_t argc;
    double timeout_s, max_age_s;
} hook;

// ---- Command line ----

// Splits `line`; with out == NULL only counts words and bytes.
static ft_status split(const char *line, char **ptrs, char *chars, size_t *n_words,
                       size_t *n_chars, ft_err *err)
{
    size_t w = 0, c = 0;
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        if (ptrs)
            ptrs[w] = chars + c;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n') {
            if (*p == '\'' || *p == '"') {
                char qc = *p++;
                while (*p && *p != qc) {
                    if (qc == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\'))
                        p++;
                    if (chars)
                        chars[c] = *p;
                    c++;
                    p++;
                }
                if (!*p)
                    return ft_err_set(err, FT_E_INVALID, "hook command: unterminated %c quote",
                                      qc);
                p++;
            } else {
                if (chars)
                    chars[c] = *p;
                c++;
                p++;
            }
        }
        if (chars)
            chars[c] = '\0';
        c++;
        w++;
    }
    *n_words = w;
    *n_chars = c;
    return FT_OK;
}

ft_status ft_deliver__split_argv(const char *line, char ***argv, size_t *argc, ft_err *err)
{
    size_t nw = 0, nc = 0, bytes;
    ft_status st;
    *argv = NULL;
    *argc = 0;
    if (!line)
        return ft_err_set(err, FT_E_INVALID, "hook command missing");
    if ((st = split(line, NULL, NULL, &nw, &nc, err)) != FT_OK)
        return st;
    if (nw == 0)
        return ft_err_set(err, FT_E_INVALID, "hook command is empty");
    if (!ft_size_mul(nw + 1, sizeof(char *), &bytes) || !ft_size_add(bytes, nc, &bytes))
        return ft_err_set(err, FT_E_LIMIT, "hook command too long");
    char **v = ft_malloc(bytes);
    if (!v)
        return ft_err_set(err, FT_E_NOMEM, "hook command: out of memory");
    split(line, v, (char *)(v + nw + 1), &nw, &nc, err);
    v[nw] = NULL;
    *argv = v;
    *argc = nw;
    return FT_OK;
}

// ---- The sink ----

static void hk_close(void *impl)
{
    hook *h = impl;
    if (!h)
        return;
    ft_free(h->argv);
    ft_free(h);
}

static ft_status hk_open(const ft_deliver_opts *o, size_t index, char *name, void **impl,
                         ft_err *err)
{
    hook *h = ft_calloc(1, sizeof *h);
    if (!h)
        return ft_err_set(err, FT_E_NOMEM, "hook: out of memory");
    ft_status st = ft_deliver__split_argv(o->on_grant, &h->argv, &h->argc, err);
    if (st != FT_OK) {
        hk_close(h);
        return st;
    }
    h->timeout_s = o->hook_timeout_s;
    h->max_age_s = o->hook_max_age_s;
    snprintf(name, FT_OUTBOX_SINK_MAX + 1, "hook");
    *impl = h;
    return FT_OK;
}

// Builds the child's environment into one buffer of NUL-terminated
// "NAME=value" strings; env[] points into it.
static ft_status env_build(const ft_event *ev, const char *json, ft_buf *b, char **env,
                           size_t cap)
{
    char id[32], track[32], pid[32], dist[32];
    const char *path = getenv("PATH");
    snprintf(id, sizeof id, "%lld", (long long)ev->id);
    track[0] = pid[0] = '\0';
    if (ev->track_id > 0)
        snprintf(track, sizeof track, "%lld", (long long)ev->track_id);
    if (ev->person_id > 0)
        snprintf(pid, sizeof pid, "%lld", (long long)ev->person_id);
    ft_deliver__real_str(ev->distance, dist);
    const char *kv[][2] = {
        {"PATH", path && path[0] ? path : DEFAULT_PATH},
        {"FT_EVENT_JSON", json},
        {"FT_EVENT_ID", id},
        {"FT_EVENT_UID", ev->uid},
        {"FT_SOURCE", ev->source},
        {"FT_TRACK", track},
        {"FT_DECISION", ft_decision_str(ev->decision)},
        {"FT_REASON", ev->reason},
        {"FT_PERSON_ID", pid},
        {"FT_PERSON_NAME", ev->name_at_time},
        {"FT_DISTANCE", dist},
    };
    size_t n = sizeof kv / sizeof kv[0];
    size_t offs[sizeof kv / sizeof kv[0]];
    FT_ASSERT(n < cap);
    ft_status st = FT_OK;
    for (size_t i = 0; i < n && st == FT_OK; i++) {
        offs[i] = b->len;
        st = ft_buf_printf(b, "%s=%s", kv[i][0], kv[i][1]);
        if (st == FT_OK)
            st = ft_buf_append(b, "", 1); // the NUL, counted: strings sit back to back
    }
    if (st != FT_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        env[i] = (char *)b->data + offs[i];
    env[n] = NULL;
    return FT_OK;
}

static ft_deliver__result hk_send(void *impl, const ft_outbox_item *row, const ft_event *ev,
                                  const char *json, size_t len, char *error, size_t cap)
{
    hook *h = impl;
    double age = ft_wall_s() - ev->time;
    if (ev->decision != FT_DECISION_GRANTED) {
        snprintf(error, cap, "not run: the hook is for granted events only");
        return FT_DELIVER__GIVE_UP;
    }
    if (age > h->max_age_s) {
        snprintf(error, cap, "not run: event is %.1f s old (limit %.1f s)%s%s", age,
                 h->max_age_s, row->last_error[0] ? "; last attempt: " : "", row->last_error);
        return FT_DELIVER__GIVE_UP;
    }

    ft_deliver__result r = FT_DELIVER__RETRY;
    ft_buf envbuf;
    char *env[16];
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    bool fa_ok = false, at_ok = false;
    ft_buf_init(&envbuf, 0);
    if (env_build(ev, json, &envbuf, env, sizeof env / sizeof env[0]) != FT_OK) {
        snprintf(error, cap, "out of memory");
        goto done;
    }
    if (posix_spawn_file_actions_init(&fa) != 0) {
        snprintf(error, cap, "out of memory");
        goto done;
    }
    fa_ok = true;
    if (posix_spawnattr_init(&at) != 0) {
        snprintf(error, cap, "out of memory");
        goto done;
    }
    at_ok = true;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    // Sockets and files of the service (camera streams, the database,
    // HTTP clients) are none of the hook's business.
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawnp(&pid, h->argv[0], &fa, &at, h->argv, env);
    if (rc != 0) {
        snprintf(error, cap, "cannot run %s: %s", h->argv[0], strerror(rc));
        goto done;
    }
    double deadline = ft_now_ms() + h->timeout_s * 1000.0;
    int status = 0;
    pid_t w;
    useconds_t nap = 1000;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && ft_now_ms() < deadline) {
        usleep(nap);
        if (nap < 20000)
            nap *= 2;
    }
    if (w == 0) {
        // Past the limit: the whole group, so a script's children go too.
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
            ;
        snprintf(error, cap, "%s: killed after %.1f s", h->argv[0], h->timeout_s);
        goto done;
    }
    if (w < 0) {
        snprintf(error, cap, "%s: waitpid: %s", h->argv[0], strerror(errno));
        goto done;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        r = FT_DELIVER__SENT;
    else if (WIFEXITED(status))
        snprintf(error, cap, "%s: exit status %d", h->argv[0], WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(error, cap, "%s: killed by signal %d", h->argv[0], WTERMSIG(status));
    else
        snprintf(error, cap, "%s: ended abnormally", h->argv[0]);
done:
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (at_ok)
        posix_spawnattr_destroy(&at);
    ft_buf_deinit(&envbuf);
    (void)len;
    return r;
}

const ft_deliver__sink_ops ft_deliver__hook_ops = {
    .kind = "hook",
    .granted_only = true,
    .max_attempts_apply = false,
    .open = hk_open,
    .send = hk_send,
    .connected = NULL,
    .source_state = NULL,
    .close = hk_close,
};
