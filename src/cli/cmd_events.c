// `facetracker events`: read the access log.
#define _GNU_SOURCE // strptime, timegm
#include "cli/cli.h"

#include "core/clock.h"
#include "core/mem.h"
#include "gallery/gallery.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: facetracker events [options]\n"
    "       facetracker events purge [--db PATH]\n"
    "\n"
    "The access log, newest first, as JSON (default) or CSV.\n"
    "\n"
    "purge applies the retention settings now (the server does it every hour): face images\n"
    "of events older than retention_thumbnails_days (default 90) and events older than\n"
    "retention_events_days (default 0 = kept) are removed; see `facetracker settings`.\n"
    "Prints {\"thumbnails_removed\": N, \"events_removed\": N}.\n"
    "\n"
    "options:\n"
    "  --since T / --until T  a time: Unix seconds, an ISO 8601 UTC date or time\n"
    "                        (2026-11-28 or 2026-11-28T08:30:00Z), or an age (90s, 15m, 2h, 7d)\n"
    "  --person P            a name or id; \"unknown\" for unrecognised faces\n"
    "  --decision D          granted or denied\n"
    "  --source S            the door or camera\n"
    "  --limit N             at most N events (default 100; 0 = all)\n"
    "  --offset N            skip the first N\n"
    "  --csv                 CSV instead of JSON\n"
    "  --db PATH             the gallery (default ./facetracker.db)\n";

// Parses the time forms in the usage text; false if none fits.
static bool parse_time(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end != s && *end == '\0') {
        *out = v;
        return true;
    }
    if (end != s && end[1] == '\0' && v >= 0) {
        double mul = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : *end == 'd' ? 86400 : 0;
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

static int purge(int argc, char **argv)
{
    const char *db = NULL;
    for (int i = 2; i < argc; i++) {
        if (ft_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        } else if (strcmp(argv[i], "--db") == 0) {
            if (!ft_cli_str(argc, argv, &i, &db))
                return FT_EXIT_USAGE;
        } else {
            ft_cli_errorf("events", "purge: unknown argument %s (see --help)", argv[i]);
            return FT_EXIT_USAGE;
        }
    }
    ft_gallery *g;
    if (ft_cli_gallery("events", db, false, &g) != FT_OK)
        return FT_EXIT_INPUT;
    ft_err err = {0};
    ft_retention_result res;
    ft_status st = ft_gallery_retention_apply(g, 0, &res, &err);
    ft_gallery_close(g);
    if (st != FT_OK) {
        ft_cli_errorf("events", "purge: %s", ft_err_msg(&err, st));
        return FT_EXIT_INPUT;
    }
    ft_buf b;
    ft_buf_init(&b, 0);
    ft_buf_printf(&b, "{\"thumbnails_removed\": %lld, \"events_removed\": %lld}",
                  (long long)res.thumbnails_removed, (long long)res.events_removed);
    ft_cli_emit(&b);
    ft_buf_deinit(&b);
    return FT_EXIT_OK;
}

int ft_cmd_events(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "purge") == 0)
        return purge(argc, argv);
    const char *db = NULL, *person = NULL;
    ft_event_query q = ft_event_query_default();
    q.limit = 100;
    bool csv = false;
    long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *s;
        if (ft_cli_is_help(a)) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        } else if (strcmp(a, "--since") == 0 || strcmp(a, "--until") == 0) {
            if (!ft_cli_str(argc, argv, &i, &s))
                return FT_EXIT_USAGE;
            if (!parse_time(s, a[2] == 's' ? &q.since : &q.until)) {
                ft_cli_errorf("events", "%s %s: not a time (see --help)", a, s);
                return FT_EXIT_USAGE;
            }
        } else if (strcmp(a, "--person") == 0) {
            if (!ft_cli_str(argc, argv, &i, &person))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--decision") == 0) {
            if (!ft_cli_str(argc, argv, &i, &s))
                return FT_EXIT_USAGE;
            if (strcmp(s, "granted") == 0)
                q.decision = FT_DECISION_GRANTED;
            else if (strcmp(s, "denied") == 0)
                q.decision = FT_DECISION_DENIED;
            else {
                ft_cli_errorf("events", "--decision %s: expected granted or denied", s);
                return FT_EXIT_USAGE;
            }
        } else if (strcmp(a, "--source") == 0) {
            if (!ft_cli_str(argc, argv, &i, &q.source))
                return FT_EXIT_USAGE;
        } else if (strcmp(a, "--limit") == 0) {
            if (!ft_cli_int(argc, argv, &i, 0, 100000000, &v))
                return FT_EXIT_USAGE;
            q.limit = (size_t)v;
        } else if (strcmp(a, "--offset") == 0) {
            if (!ft_cli_int(argc, argv, &i, 0, 100000000, &v))
                return FT_EXIT_USAGE;
            q.offset = (size_t)v;
        } else if (strcmp(a, "--csv") == 0) {
            csv = true;
        } else if (strcmp(a, "--db") == 0) {
            if (!ft_cli_str(argc, argv, &i, &db))
                return FT_EXIT_USAGE;
        } else {
            ft_cli_errorf("events", "unknown argument %s (see --help)", a);
            return FT_EXIT_USAGE;
        }
    }
    ft_gallery *g;
    if (ft_cli_gallery("events", db, true, &g) != FT_OK)
        return FT_EXIT_INPUT;
    ft_err err = {0};
    ft_status st = FT_OK;
    if (person) {
        char *end;
        long long id = strtoll(person, &end, 10);
        ft_person p;
        if (strcmp(person, "unknown") == 0)
            q.person_id = -1;
        else if (*person && !*end && id > 0)
            q.person_id = id;
        else if ((st = ft_gallery_person_find(g, person, &p, &err)) == FT_OK)
            q.person_id = p.id;
    }
    ft_buf b;
    ft_buf_init(&b, 0);
    if (st == FT_OK && csv) {
        q.csv_door_columns = true; // track, frames, uid, nearest and second (schema 3)
        st = ft_gallery_events_csv(g, &q, &b, &err);
        if (st == FT_OK)
            fwrite(b.data, 1, b.len, stdout);
    } else if (st == FT_OK) {
        ft_event *ev = NULL;
        size_t n = 0;
        int64_t total = 0;
        st = ft_gallery_events_query(g, &q, &ev, &n, &total, &err);
        if (st == FT_OK) {
            ft_buf_printf(&b, "{\"total\": %lld, \"events\": [", (long long)total);
            for (size_t k = 0; k < n; k++) {
                char ts[32];
                time_t t = (time_t)ev[k].time;
                struct tm tm;
                gmtime_r(&t, &tm);
                strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
                ft_buf_printf(&b, "%s{\"id\": %lld, \"time\": %.3f, \"time_utc\": \"%s\", \"source\": ",
                              k ? ", " : "", (long long)ev[k].id, ev[k].time, ts);
                ft_buf_json_str(&b, ev[k].source);
                ft_buf_printf(&b, ", \"decision\": \"%s\", \"reason\": ", ft_decision_str(ev[k].decision));
                ft_buf_json_str(&b, ev[k].reason);
                ft_buf_puts(&b, ", \"person\": ");
                if (ev[k].person_id > 0 || ev[k].name_at_time[0]) {
                    ft_buf_printf(&b, "{\"id\": %lld, \"name\": ", (long long)ev[k].person_id);
                    ft_buf_json_str(&b, ev[k].name_at_time);
                    ft_buf_puts(&b, "}");
                } else
                    ft_buf_puts(&b, "\"unknown\"");
                ft_buf_puts(&b, ", \"distance\": ");
                ft_cli_json_num(&b, ev[k].distance);
                ft_buf_puts(&b, ", \"margin\": ");
                ft_cli_json_num(&b, ev[k].margin);
                ft_buf_puts(&b, ", \"detector_score\": ");
                ft_cli_json_num(&b, ev[k].detector_score);
                ft_buf_printf(&b, ", \"thumbnail_bytes\": %zu}", ev[k].thumbnail_len);
            }
            ft_buf_puts(&b, "]}");
            ft_cli_emit(&b);
        }
        ft_free(ev);
    }
    ft_buf_deinit(&b);
    ft_gallery_close(g);
    if (st != FT_OK) {
        ft_cli_errorf("events", "%s", ft_err_msg(&err, st));
        return FT_EXIT_INPUT;
    }
    return FT_EXIT_OK;
}
