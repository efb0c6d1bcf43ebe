// `facetracker audit`: read the audit trail of administrative actions.
#define _GNU_SOURCE // strptime, timegm
#include "cli/cli.h"

#include "core/clock.h"
#include "core/mem.h"
#include "gallery/gallery.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: facetracker audit [--since T] [--limit N] [--csv] [--db PATH]\n"
    "\n"
    "Who did what to the gallery, newest first: enrolments, samples, people (delete,\n"
    "rename, update, erase), settings, calibration, keys, cameras, retention. Each row has\n"
    "the time, the actor (cli:USER, key:ID:NAME, local for a key-less server), the action,\n"
    "its target and details. JSON by default; --csv gives every matching row, oldest first.\n"
    "\n"
    "options:\n"
    "  --since T             Unix seconds, an ISO 8601 UTC date or time, or an age (15m, 7d)\n"
    "  --limit N             at most N rows (default 100; 0 = all; JSON only)\n"
    "  --csv                 CSV instead of JSON\n"
    "  --db PATH             the gallery (default ./facetracker.db)\n";

static bool parse_time(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end != s && *end == '\0') {
        *out = v;
        return true;
    }
    if (end != s && end[1] == '\0' && v >= 0) {
        double mul = *end == 's'   ? 1
                     : *end == 'm' ? 60
                     : *end == 'h' ? 3600
                     : *end == 'd' ? 86400
                                   : 0;
        if (mul > 0) {
            *out = ft_wall_s() - v * mul;
            return true;
        }
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *r = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!r) {
        memset(&tm, 0, sizeof tm);
        r = strptime(s, "%Y-%m-%d", &tm);
    }
    if (!r || (*r && strcmp(r, "Z") != 0))
        return false;
    *out = (double)timegm(&tm);
    return true;
}

int ft_cmd_audit(int argc, char **argv)
{
    const char *db = NULL, *s;
    double since = 0;
    long limit = 100;
    bool csv = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (ft_cli_is_help(a)) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        } else if (strcmp(a, "--since") == 0) {
            if (!ft_cli_str(argc, argv, &i, &s))
                return FT_EXIT_USAGE;
            if (!parse_time(s, &since)) {
                ft_cli_errorf("audit", "--since %s: not a time (see --help)", s);
                return FT_EXIT_USAGE;
            }
        } else if (strcmp(a, "--limit") == 0) {
            if (!ft_cli_int(argc, argv, &i, 0, 100000000, &limit))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--csv") == 0) {
            csv = true;
        } else if (strcmp(a, "--db") == 0) {
            if (!ft_cli_str(argc, argv, &i, &db))
                return FT_EXIT_USAGE;
        } else {
            ft_cli_errorf("audit", "unknown argument %s (see --help)", a);
            return FT_EXIT_USAGE;
        }
    }
    ft_gallery *g;
    if (ft_cli_gallery("audit", db, true, &g) != FT_OK)
        return FT_EXIT_INPUT;
    ft_err err = {0};
    ft_status st;
    ft_buf b;
    ft_buf_init(&b, 0);
    if (csv) {
        st = ft_gallery_audit_csv(g, since, &b, &err);
        if (st == FT_OK)
            fwrite(b.data, 1, b.len, stdout);
    } else {
        ft_audit_row *rows = NULL;
        size_t n = 0;
        int64_t total = 0;
        st = ft_gallery_audit_query(g, since, (size_t)limit, &rows, &n, &total, &err);
        if (st == FT_OK) {
            ft_buf_printf(&b, "{\"total\": %lld, \"audit\": [", (long long)total);
            for (size_t k = 0; k < n; k++) {
                char ts[32];
                time_t t = (time_t)rows[k].time;
                struct tm tm;
                gmtime_r(&t, &tm);
                strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
                ft_buf_printf(&b,
                              "%s{\"id\": %lld, \"time\": %.3f, \"time_utc\": \"%s\", "
                              "\"actor\": ",
                              k ? ", " : "", (long long)rows[k].id, rows[k].time, ts);
                ft_buf_json_str(&b, rows[k].actor);
                ft_buf_puts(&b, ", \"action\": ");
                ft_buf_json_str(&b, rows[k].action);
                ft_buf_puts(&b, ", \"target\": ");
                ft_buf_json_str(&b, rows[k].target);
                // The detail is a JSON object written by facetracker: it is
                // embedded as an object when it parses, else as a string.
                json_t *dj = json_loads(rows[k].detail, JSON_REJECT_DUPLICATES, NULL);
                ft_buf_puts(&b, ", \"detail\": ");
                if (json_is_object(dj))
                    ft_buf_puts(&b, rows[k].detail);
                else
                    ft_buf_json_str(&b, rows[k].detail);
                json_decref(dj);
                ft_buf_puts(&b, "}");
            }
            ft_buf_puts(&b, "]}");
            ft_cli_emit(&b);
        }
        ft_free(rows);
    }
    ft_buf_deinit(&b);
    ft_gallery_close(g);
    if (st != FT_OK) {
        ft_cli_errorf("audit", "%s", ft_err_msg(&err, st));
        return FT_EXIT_INPUT;
    }
    return FT_EXIT_OK;
}
