// `facetracker gallery copy SRC DST`: a whole gallery from one store to
// another (a SQLite file and a PostgreSQL database, either way round),
// checked by row counts and checksums (ft_gallery_copy).
#include "cli/cli.h"

#include "gallery/gallery.h"

#include <string.h>

static const char usage[] =
    "usage: facetracker gallery copy SRC DST\n"
    "\n"
    "Copies the whole gallery SRC into DST, which must be new or empty: people, samples\n"
    "(descriptors and face images), events (with face images), API keys (tokens keep\n"
    "working), settings and the audit trail, with their ids, in one transaction. Then reads\n"
    "both back and compares each table's row count and SHA-256. SRC and DST are SQLite paths\n"
    "or PostgreSQL connection strings (postgresql://USER@HOST:PORT/DB; the password from\n"
    "PGPASSWORD or ~/.pgpass). The outbox (deliveries still pending on one server) is not\n"
    "copied: let it drain, or stop the server, before moving a site.\n"
    "Prints {\"copied\": {\"people\": N, ...}, \"sha256\": HEX}.\n"
    "\n"
    "Moving a one-door site to PostgreSQL:\n"
    "  facetracker gallery copy ./facetracker.db postgresql://ft@db.example/facetracker\n"
    "  facetracker serve --db postgresql://ft@db.example/facetracker ...\n";

static int copy(const char *src, const char *dst)
{
    ft_gallery *a = NULL, *b = NULL;
    ft_err err = {0};
    // The source read-only: a missing one is an error, not a new empty
    // gallery (an older SQLite schema asks to be opened read-write once).
    if (ft_cli_gallery("gallery copy", src, true, &a) != FT_OK)
        return FT_EXIT_INPUT;
    if (ft_cli_gallery("gallery copy", dst, false, &b) != FT_OK) {
        ft_gallery_close(a);
        return FT_EXIT_INPUT;
    }
    ft_gallery_copy_result r;
    ft_status st = ft_gallery_copy(a, b, &r, &err);
    if (st == FT_OK) {
        char actor[FT_AUDIT_ACTOR_MAX + 1], detail[160];
        ft_audit_cli_actor(actor);
        snprintf(detail, sizeof detail, "{\"people\": %lld, \"samples\": %lld, \"events\": %lld}",
                 (long long)r.people, (long long)r.samples, (long long)r.events);
        ft_gallery_audit_add(b, actor, "gallery.copy", "gallery", detail, NULL);
    }
    ft_gallery_close(b);
    ft_gallery_close(a);
    if (st != FT_OK) {
        ft_cli_errorf("gallery copy", "%s", err.msg);
        return FT_EXIT_INPUT;
    }
    printf("{\"copied\": {\"people\": %lld, \"samples\": %lld, \"events\": %lld, \"api_keys\": "
           "%lld, \"settings\": %lld, \"audit\": %lld}, \"sha256\": \"%s\"}\n",
           (long long)r.people, (long long)r.samples, (long long)r.events, (long long)r.api_keys,
           (long long)r.settings, (long long)r.audit, r.sha256);
    return FT_EXIT_OK;
}

int ft_cmd_gallery(int argc, char **argv)
{
    const char *args[3];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (ft_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return FT_EXIT_OK;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            ft_cli_errorf("gallery", "unknown option %s (see --help)", argv[i]);
            return FT_EXIT_USAGE;
        } else if (n < 3) {
            args[n++] = argv[i];
        } else {
            fputs(usage, stderr);
            return FT_EXIT_USAGE;
        }
    }
    if (n != 3 || strcmp(args[0], "copy") != 0) {
        fputs(usage, stderr);
        return FT_EXIT_USAGE;
    }
    return copy(args[1], args[2]);
}
