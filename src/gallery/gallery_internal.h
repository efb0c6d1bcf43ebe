// Declarations shared by the files of src/gallery (not for other modules).
#ifndef FT_GALLERY_INTERNAL_H
#define FT_GALLERY_INTERNAL_H

#include "gallery/gallery.h"

#include <sqlite3.h>

struct ft_gallery {
    sqlite3 *db;
    char *path;
    bool readonly;
    int busy_ms;
    int version;
    // Bumped by every write transaction this connection commits: PRAGMA
    // data_version only reports other connections' commits.
    uint64_t local_seq;
    uint64_t nonce; // random per open: matrices remember which connection loaded them
    void (*hook)(const char *point, void *arg);
    void *hook_arg;
};

#include "gallery/sqdist.h"

struct ft_match_matrix {
    float *desc;     // [n, 128], 64-byte aligned, rows grouped by person
    int64_t *person; // n
    int64_t *sample; // n
    size_t n, n_people;
    const ft_sqdist_variant *kern;
    // Where it came from, for staleness checks (NULL owner: built from arrays).
    const ft_gallery *owner;
    uint64_t owner_nonce; // tells a reopened handle at the same address apart
    char *model; // the model filter (NULL = all)
    int64_t data_version, generation;
    uint64_t local_seq;
};

// Maps a SQLite result code to a status and fills err with `what` and
// SQLite's message: BUSY/LOCKED -> FT_E_BUSY, NOMEM -> FT_E_NOMEM,
// CONSTRAINT_UNIQUE -> FT_E_EXISTS, FULL/IOERR/CANTOPEN -> FT_E_IO,
// everything else (READONLY, CORRUPT, NOTADB, ...) -> FT_E_DB.
ft_status ft_gallery__dberr(ft_gallery *g, int rc, ft_err *err, const char *what);

ft_status ft_gallery__prepare(ft_gallery *g, const char *sql, sqlite3_stmt **st, ft_err *err);
// FT_E_DB "read-only" if the gallery cannot be written.
ft_status ft_gallery__writable(ft_gallery *g, ft_err *err);
// BEGIN IMMEDIATE (takes the write lock up front, so the busy handler
// applies and no deferred-upgrade deadlock can happen), COMMIT, ROLLBACK.
ft_status ft_gallery__begin(ft_gallery *g, ft_err *err);
ft_status ft_gallery__commit(ft_gallery *g, ft_err *err);
void ft_gallery__rollback(ft_gallery *g);
// Runs one statement without results (SQL without parameters).
ft_status ft_gallery__exec(ft_gallery *g, const char *sql, ft_err *err);
void ft_gallery__hook(ft_gallery *g, const char *point);

// Converts one result row into the element at `dst` (FT_OK, or an error
// for a malformed row).
typedef ft_status (*ft_gallery__row_fn)(ft_gallery *g, sqlite3_stmt *s, void *dst, ft_err *err);
// Steps `s` to the end and collects its rows, converted by `row`, into a
// new ft_malloc'd array of `size`-byte elements (*out NULL when empty);
// finalizes `s` in every case. `what` names the query in messages.
ft_status ft_gallery__collect(ft_gallery *g, sqlite3_stmt *s, size_t size, ft_gallery__row_fn row,
                              const char *what, void **out, size_t *n, ft_err *err);

// Copies a text column into dst (cap bytes with NUL), truncating; NULL -> "".
void ft_gallery__col_text(sqlite3_stmt *st, int col, char *dst, size_t cap);
// A REAL column; NULL -> NaN.
double ft_gallery__col_real(sqlite3_stmt *st, int col);
// Binds a double, NaN as NULL (SQLite would do the same, explicitly).
int ft_gallery__bind_real(sqlite3_stmt *st, int idx, double v);
// Binds a blob (NULL/0 length -> SQL NULL).
int ft_gallery__bind_blob(sqlite3_stmt *st, int idx, const void *p, size_t n);

// Descriptor <-> 512-byte little-endian BLOB.
void ft_gallery__desc_to_le(const float *d, uint8_t out[FT_GALLERY_DIM * 4]);
void ft_gallery__desc_from_le(const uint8_t *p, float *d);

// Reads a blob column of row `id` from `table` into out.
ft_status ft_gallery__blob_get(ft_gallery *g, const char *sql, int64_t id, ft_buf *out,
                               const char *what, ft_err *err);

// The text rule of ft_gallery_name_check for any field called `what`.
ft_status ft_gallery__text_check(const char *what, const char *s, size_t max, bool allow_empty,
                                 ft_err *err);

// Adds an audit row inside the caller's write transaction (audit.c).
// actor NULL or "" = "unknown"; detail NULL = "{}".
ft_status ft_gallery__audit_tx(ft_gallery *g, const char *actor, const char *action,
                               const char *target, const char *detail, ft_err *err);

// Stores a calibration result (threshold, calibrated_*, the FAR table)
// and its audit row in one transaction (settings.c).
ft_status ft_gallery__calibration_store(ft_gallery *g, const ft_calib_result *r,
                                        const ft_calib_opts *o, ft_err *err);

// The generation counter (settings "generation").
ft_status ft_gallery__generation(ft_gallery *g, int64_t *out, ft_err *err);

#endif
