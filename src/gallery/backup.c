// Storage health and copies of the gallery: the writability probe behind
// /readyz, the online backup (SQLite's backup API, one committed state
// even while other connections write), the check of a backup file and the
// restore that replaces a gallery with it (see gallery.h).
#include "gallery/gallery_internal.h"

#include "core/clock.h"
#include "core/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define FT_GALLERY_APP_ID 0x46546731 // 'FTg1', as gallery.c
#define MIN_FREE_BYTES (1u << 20)

// ---- Writability ----

ft_status ft_gallery_path_writable_probe(const char *path, ft_err *err)
{
    char dir[4096];
    struct statvfs vfs;
    if (!path || !*path)
        return ft_err_set(err, FT_E_INVALID, "empty gallery path");
    if (ft_store_is_pg_url(path))
        return ft_err_set(err, FT_E_UNSUPPORTED,
                          "writable probe of a path: a PostgreSQL gallery has no file to probe");
    if (strcmp(path, ":memory:") == 0)
        return FT_OK;
    if (access(path, F_OK) != 0)
        return ft_err_set(err, FT_E_NOT_FOUND, "%s: %s", path, strerror(errno));
    snprintf(dir, sizeof dir, "%s", path);
    const char *d = dirname(dir);
    if (access(path, W_OK) != 0)
        return ft_err_set(err, FT_E_DB, "%s: the database is read-only (%s)", path,
                          strerror(errno));
    // WAL needs the -wal and -shm files beside the database.
    if (access(d, W_OK) != 0)
        return ft_err_set(err, FT_E_DB, "%s: its folder %s is not writable (%s)", path, d,
                          strerror(errno));
    if (statvfs(path, &vfs) == 0) {
        if (vfs.f_flag & ST_RDONLY)
            return ft_err_set(err, FT_E_DB, "%s: the file system is mounted read-only", path);
        unsigned long long avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
        if (avail < MIN_FREE_BYTES)
            return ft_err_set(err, FT_E_IO,
                              "%s: disk full: %llu bytes free, need at least %u for writes", path,
                              avail, MIN_FREE_BYTES);
    }
    return FT_OK;
}

ft_status ft_gallery__sq_writable_probe(ft_gallery *g, ft_err *err)
{
    ft_status st = ft_gallery__writable(g, err);
    if (st != FT_OK)
        return st;
    return ft_gallery_path_writable_probe(g->path, err);
}

// ---- Copies ----

static ft_status sync_path(const char *path, bool dir, ft_err *err)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return ft_err_set(err, FT_E_IO, "%s: %s", path, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && !(dir && (e == EINVAL || e == EROFS)))
        return ft_err_set(err, FT_E_IO, "%s: fsync: %s", path, strerror(e));
    return FT_OK;
}

static ft_status dir_sync(const char *path, ft_err *err)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    return sync_path(dirname(dir), true, err);
}

static ft_status sqlerr(sqlite3 *db, int rc, const char *path, const char *what, ft_err *err)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        return ft_err_set(err, FT_E_IO, "%s: %s: %s", path, what, msg);
    case SQLITE_NOMEM:
        return ft_err_set(err, FT_E_NOMEM, "%s: %s: out of memory", path, what);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return ft_err_set(err, FT_E_BUSY, "%s: %s: the database is locked", path, what);
    default:
        return ft_err_set(err, FT_E_DB, "%s: %s: %s", path, what, msg);
    }
}

static ft_status one_int(sqlite3 *db, const char *path, const char *sql, int64_t *out,
                         ft_err *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return sqlerr(db, rc, path, sql, err);
    rc = sqlite3_step(s);
    ft_status st = FT_OK;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else
        st = sqlerr(db, rc, path, sql, err);
    sqlite3_finalize(s);
    return st;
}

static ft_status integrity(sqlite3 *db, const char *path, ft_err *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL);
    if (rc != SQLITE_OK)
        return sqlerr(db, rc, path, "integrity check", err);
    rc = sqlite3_step(s);
    ft_status st = FT_OK;
    if (rc != SQLITE_ROW) {
        st = sqlerr(db, rc, path, "integrity check", err);
    } else {
        const char *r = (const char *)sqlite3_column_text(s, 0);
        if (!r || strcmp(r, "ok") != 0)
            st = ft_err_set(err, FT_E_DB, "%s: integrity check failed: %s", path, r ? r : "?");
    }
    sqlite3_finalize(s);
    return st;
}

// Copies all of `src` (schema "main") into a new file `tmp` in one backup
// step, switches the copy to rollback-journal mode and checks it.
static ft_status copy_to(sqlite3 *src, const char *src_path, const char *tmp, int busy_ms,
                         ft_err *err)
{
    sqlite3 *dst = NULL;
    ft_status st = FT_OK;
    unlink(tmp);
    int rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        st = sqlerr(dst, rc, tmp, "create the copy", err);
        goto done;
    }
    sqlite3_extended_result_codes(dst, 1);
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    if (!b) {
        st = sqlerr(dst, sqlite3_errcode(dst), tmp, "start the backup", err);
        goto done;
    }
    // One step copies every page under one read transaction of the
    // source: the copy is one committed state. BUSY means a writer holds
    // a lock the step needs; retry until the busy timeout.
    double deadline = ft_now_ms() + (busy_ms > 0 ? busy_ms : 5000);
    for (;;) {
        rc = sqlite3_backup_step(b, -1);
        if (rc == SQLITE_DONE)
            break;
        if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && ft_now_ms() < deadline) {
            usleep(10000);
            continue;
        }
        break;
    }
    int rc2 = sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
        st = sqlerr(dst, rc, src_path, "backup", err);
        goto done;
    }
    if (rc2 != SQLITE_OK) {
        st = sqlerr(dst, rc2, tmp, "finish the backup", err);
        goto done;
    }
    // A standalone file: no -wal to carry around with it.
    rc = sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        st = sqlerr(dst, rc, tmp, "journal mode", err);
        goto done;
    }
    st = integrity(dst, tmp, err);
done:
    if (dst)
        sqlite3_close_v2(dst);
    if (st == FT_OK)
        st = sync_path(tmp, false, err);
    if (st != FT_OK)
        unlink(tmp);
    return st;
}

ft_status ft_gallery__sq_backup(ft_gallery *g, const char *dest, ft_err *err)
{
    char tmp[4200];
    if (!dest || !*dest)
        return ft_err_set(err, FT_E_INVALID, "backup: no destination");
    if (strcmp(dest, g->path) == 0)
        return ft_err_set(err, FT_E_INVALID, "backup: %s is the gallery itself", dest);
    snprintf(tmp, sizeof tmp, "%s.tmp-%d", dest, (int)getpid());
    ft_status st = copy_to(g->db, g->path, tmp, g->busy_ms, err);
    if (st != FT_OK)
        return st;
    if (rename(tmp, dest) != 0) {
        st = ft_err_set(err, FT_E_IO, "backup: rename %s to %s: %s", tmp, dest, strerror(errno));
        unlink(tmp);
        return st;
    }
    return dir_sync(dest, err);
}

// Opens `src` read-only and checks it (see gallery.h); on FT_OK *db is
// open and the caller closes it.
static ft_status check_open(const char *src, sqlite3 **db, ft_gallery_counts *counts,
                            ft_err *err)
{
    *db = NULL;
    if (access(src, R_OK) != 0)
        return ft_err_set(err, FT_E_NOT_FOUND, "%s: %s", src, strerror(errno));
    sqlite3 *d = NULL;
    int64_t app = 0, ver = 0;
    ft_status st;
    int rc = sqlite3_open_v2(src, &d, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        st = sqlerr(d, rc, src, "open", err);
        goto fail;
    }
    sqlite3_extended_result_codes(d, 1);
    sqlite3_busy_timeout(d, 5000);
    if ((st = one_int(d, src, "PRAGMA application_id", &app, err)) != FT_OK)
        goto fail;
    if (app != FT_GALLERY_APP_ID) {
        st = ft_err_set(err, FT_E_DB, "%s: not a facetracker gallery (application_id %#llx)",
                        src, (unsigned long long)app);
        goto fail;
    }
    if ((st = one_int(d, src, "PRAGMA user_version", &ver, err)) != FT_OK)
        goto fail;
    if (ver < 1 || ver > FT_GALLERY_SCHEMA_VERSION) {
        st = ft_err_set(err, ver > FT_GALLERY_SCHEMA_VERSION ? FT_E_UNSUPPORTED : FT_E_DB,
                        "%s: schema version %lld (this facetracker reads 1..%d)", src,
                        (long long)ver, FT_GALLERY_SCHEMA_VERSION);
        goto fail;
    }
    if ((st = integrity(d, src, err)) != FT_OK)
        goto fail;
    if (counts) {
        ft_gallery_counts c;
        if ((st = one_int(d, src, "SELECT count(*) FROM people", &c.people, err)) != FT_OK ||
            (st = one_int(d, src, "SELECT count(*) FROM samples", &c.samples, err)) != FT_OK ||
            (st = one_int(d, src, "SELECT count(*) FROM events", &c.events, err)) != FT_OK ||
            (st = one_int(d, src, "SELECT count(*) FROM api_keys", &c.api_keys, err)) != FT_OK)
            goto fail;
        *counts = c;
    }
    *db = d;
    return FT_OK;
fail:
    if (d)
        sqlite3_close_v2(d);
    return st;
}

ft_status ft_gallery_backup_check(const char *src, ft_gallery_counts *counts, ft_err *err)
{
    sqlite3 *d;
    if (src && ft_store_is_pg_url(src))
        return ft_err_set(err, FT_E_UNSUPPORTED,
                          "backup check: a PostgreSQL gallery is backed up with pg_dump");
    ft_status st = check_open(src, &d, counts, err);
    if (st == FT_OK)
        sqlite3_close_v2(d);
    return st;
}

ft_status ft_gallery_restore(const char *src, const char *dest, ft_err *err)
{
    char tmp[4200], keep[4200], side[4200];
    sqlite3 *s = NULL;
    if (!dest || !*dest || !src || !*src)
        return ft_err_set(err, FT_E_INVALID, "restore: source and destination are required");
    if (ft_store_is_pg_url(src) || ft_store_is_pg_url(dest))
        return ft_err_set(err, FT_E_UNSUPPORTED,
                          "restore: a PostgreSQL gallery is restored with pg_restore (or "
                          "\"facetracker gallery copy\")");
    ft_status st = check_open(src, &s, NULL, err);
    if (st != FT_OK)
        return st;
    snprintf(tmp, sizeof tmp, "%s.restore-%d", dest, (int)getpid());
    st = copy_to(s, src, tmp, 5000, err);
    sqlite3_close_v2(s);
    if (st != FT_OK)
        return st;
    if (access(dest, F_OK) == 0) {
        // Fold the current file's WAL into it, so the copy kept as
        // DEST.pre-restore is complete, and so no stale -wal is left to
        // be replayed into the restored file.
        sqlite3 *d = NULL;
        if (sqlite3_open_v2(dest, &d, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
            sqlite3_busy_timeout(d, 5000);
            int rc = sqlite3_exec(d, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
            if (rc != SQLITE_OK) {
                st = ft_err_set(err, FT_E_BUSY,
                                "restore: %s is in use (%s): stop the server first", dest,
                                sqlite3_errmsg(d));
            }
        }
        if (d)
            sqlite3_close_v2(d);
        if (st != FT_OK) {
            unlink(tmp);
            return st;
        }
        snprintf(keep, sizeof keep, "%s.pre-restore", dest);
        unlink(keep);
        if (link(dest, keep) != 0) {
            st = ft_err_set(err, FT_E_IO, "restore: keep %s as %s: %s", dest, keep,
                            strerror(errno));
            unlink(tmp);
            return st;
        }
    }
    snprintf(side, sizeof side, "%s-wal", dest);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", dest);
    unlink(side);
    if (rename(tmp, dest) != 0) {
        st = ft_err_set(err, FT_E_IO, "restore: rename %s to %s: %s", tmp, dest, strerror(errno));
        unlink(tmp);
        return st;
    }
    return dir_sync(dest, err);
}
