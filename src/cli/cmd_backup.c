// `facetracker backup DEST` and `facetracker restore SRC`: a consistent
// copy of the gallery (safe while the server runs) and putting one back
// (with the server stopped).
#include "cli/cli.h"

#include "gallery/gallery.h"

#include <string.h>

static const char backup_usage[] =
    "usage: facetracker backup [--db PATH] DEST\n"
    "\n"
    "Writes a consistent copy of the gallery to DEST with SQLite's online backup: one\n"
    "committed state, including changes still in the -wal file, also while the server or\n"
    "other commands are writing (copying the .db file by hand misses those). The copy is a\n"
    "single self-contained file, checked with integrity_check before it replaces DEST.\n"
    "Prints {\"backup\": DEST, \"people\": N, \"samples\": N, \"events\": N, \"api_keys\": N}.\n";

static const char restore_usage[] =
    "usage: facetracker restore [--db PATH] SRC [--yes]\n"
    "\n"
    "Replaces the gallery (--db, default ./facetracker.db) with the backup SRC, after\n"
    "checking that SRC is a facetracker gallery this version can open and that it passes\n"
    "integrity_check. The replaced file is kept as PATH.pre-restore.\n"
    "\n"
    "Stop the server (and any camera loop) first: a process that has the gallery open keeps\n"
    "using the old file. Asks for confirmation on a terminal; --yes in scripts.\n";

static void counts_json(ft_buf *b, const char *key, const char *path, const ft_gallery_counts *c)
{
    ft_buf_printf(b, "{\"%s\": ", key);
    ft_buf_json_str(b, path);
    ft_buf_printf(b, ", \"people\": %lld, \"samples\": %lld, \"events\": %lld, \"api_keys\": %lld}",
                  (long long)c->people, (long long)c->samples, (long long)c->events,
                  (long long)c->api_keys);
}

int ft_cmd_backup(int argc, char **argv)
{
    const char *db = NULL, *dest = NULL;
    for (int i = 1; i < argc; i++) {
        if (ft_cli_is_help(argv[i])) {
            fputs(backup_usage, stdout);
            return FT_EXIT_OK;
        } else if (strcmp(argv[i], "--db") == 0) {
            if (!ft_cli_str(argc, argv, &i, &db))
                return FT_EXIT_USAGE;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            ft_cli_errorf("backup", "unknown option %s (see --help)", argv[i]);
            return FT_EXIT_USAGE;
        } else if (!dest) {
            dest = argv[i];
        } else {
            fputs(backup_usage, stderr);
            return FT_EXIT_USAGE;
        }
    }
    if (!dest) {
        fputs(backup_usage, stderr);
        return FT_EXIT_USAGE;
    }
    ft_gallery *g;
    // Read-write open (not read-only): a gallery of an older schema is
    // migrated first, so the backup is of the current schema.
    if (ft_cli_gallery("backup", db, false, &g) != FT_OK)
        return FT_EXIT_INPUT;
    ft_err err = {0};
    ft_gallery_counts c;
    ft_status st = ft_gallery_backup(g, dest, &err);
    if (st == FT_OK)
        st = ft_gallery_backup_check(dest, &c, &err);
    if (st == FT_OK) {
        char actor[FT_AUDIT_ACTOR_MAX + 1], detail[96];
        ft_audit_cli_actor(actor);
        snprintf(detail, sizeof detail, "{\"people\": %lld, \"samples\": %lld}",
                 (long long)c.people, (long long)c.samples);
        // The backup is made; a read-only gallery just cannot record it.
        ft_gallery_audit_add(g, actor, "gallery.backup", "gallery", detail, NULL);
    }
    ft_gallery_close(g);
    if (st != FT_OK) {
        ft_cli_errorf("backup", "%s", ft_err_msg(&err, st));
        return FT_EXIT_INPUT;
    }
    ft_buf b;
    ft_buf_init(&b, 0);
    counts_json(&b, "backup", dest, &c);
    ft_cli_emit(&b);
    ft_buf_deinit(&b);
    return FT_EXIT_OK;
}

int ft_cmd_restore(int argc, char **argv)
{
    const char *db = FT_GALLERY_DEFAULT_PATH, *src = NULL;
    bool yes = false;
    for (int i = 1; i < argc; i++) {
        if (ft_cli_is_help(argv[i])) {
            fputs(restore_usage, stdout);
            return FT_EXIT_OK;
        } else if (strcmp(argv[i], "--db") == 0) {
            if (!ft_cli_str(argc, argv, &i, &db))
                return FT_EXIT_USAGE;
        } else if (strcmp(argv[i], "--yes") == 0) {
            yes = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            ft_cli_errorf("restore", "unknown option %s (see --help)", argv[i]);
            return FT_EXIT_USAGE;
        } else if (!src) {
            src = argv[i];
        } else {
            fputs(restore_usage, stderr);
            return FT_EXIT_USAGE;
        }
    }
    if (!src) {
        fputs(restore_usage, stderr);
        return FT_EXIT_USAGE;
    }
    ft_err err = {0};
    ft_gallery_counts c;
    ft_status st = ft_gallery_backup_check(src, &c, &err);
    if (st != FT_OK) {
        ft_cli_errorf("restore", "%s; nothing was changed", ft_err_msg(&err, st));
        return FT_EXIT_INPUT;
    }
    if (!ft_cli_confirm("restore", yes,
                        "Replace %s with %s (%lld people, %lld samples, %lld events)? The server "
                        "must be stopped",
                        db, src, (long long)c.people, (long long)c.samples, (long long)c.events))
        return FT_EXIT_USAGE;
    st = ft_gallery_restore(src, db, &err);
    if (st != FT_OK) {
        ft_cli_errorf("restore", "%s", ft_err_msg(&err, st));
        return FT_EXIT_INPUT;
    }
    // Opening migrates an older backup to this version's schema and
    // records the restore in the restored gallery's own audit trail.
    ft_gallery *g;
    if (ft_cli_gallery("restore", db, false, &g) != FT_OK)
        return FT_EXIT_INPUT;
    char actor[FT_AUDIT_ACTOR_MAX + 1], detail[96];
    ft_audit_cli_actor(actor);
    snprintf(detail, sizeof detail, "{\"people\": %lld, \"samples\": %lld}", (long long)c.people,
             (long long)c.samples);
    ft_gallery_audit_add(g, actor, "gallery.restore", "gallery", detail, NULL);
    ft_gallery_close(g);
    ft_buf b;
    ft_buf_init(&b, 0);
    counts_json(&b, "restored", db, &c);
    ft_cli_emit(&b);
    ft_buf_deinit(&b);
    return FT_EXIT_OK;
}
