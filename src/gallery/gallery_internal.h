// Declarations shared by the files of src/gallery (not for other modules).
#ifndef FT_GALLERY_INTERNAL_H
#define FT_GALLERY_INTERNAL_H

#include "gallery/gallery.h"
#include "gallery/store.h"

#include <sqlite3.h>

struct ft_gallery {
    const ft_store_ops *ops; // the backend (store.h)
    // SQLite backend: the connection. Other backends keep theirs in `be`.
    sqlite3 *db;
    void *be;
    char *path; // the SQLite path, or the connection string with its password masked
    bool readonly;
    int busy_ms;
    int version;
    // Bumped by every write transaction this connection commits: PRAGMA
    // data_version only reports other connections' commits.
    uint64_t local_seq;
    uint64_t nonce; // random per open: matrices remember which connection loaded them
    void (*hook)(const char *point, void *arg);
    void *hook_arg;
    // The audit row of the administrative write in progress (the
    // ft_gallery_*_audited functions of store.c set it for exactly one
    // backend call and clear it after): the backend's commit writes it in
    // the same transaction, just before COMMIT, and a failure to write it
    // rolls the whole write back. audit_id is the id of the row the write
    // created or changed (set by the caller, or by the backend when it
    // creates a person or a key) for a target "<object>:<id>".
    const ft_audit_entry *audit_armed;
    int64_t audit_id;
};

#include "gallery/sqdist.h"

struct ft_match_matrix {
    float *desc;     // [n, dim], 64-byte aligned, rows grouped by person; unit rows if cosine
    int64_t *person; // n
    int64_t *sample; // n
    size_t n, n_people;
    size_t dim;
    ft_metric metric;
    const ft_sqdist_variant *kern;
    struct ft_match_i8 *i8; // int8 index of large matrices (match_i8.h), or NULL
    // Where it came from, for staleness checks (NULL owner: built from arrays).
    const ft_gallery *owner;
    uint64_t owner_nonce; // tells a reopened handle at the same address apart
    char *model; // the space's name (NULL: built from arrays)
    ft_store_mark mark; // the change feed's position when loaded
};

// A matrix of n rows of dim floats (descriptors, person and sample ids to
// fill), and the person count of a filled one (match.c; for the backends'
// loaders).
ft_status ft_gallery__matrix_alloc(size_t n, size_t dim, ft_metric metric, ft_match_matrix **out,
                                   ft_err *err);
void ft_gallery__matrix_count_people(ft_match_matrix *m);
// Checks and prepares row r after its values were written: finite, and
// for a cosine matrix non-zero, then scaled to unit length. `what` names
// the row in the message (FT_E_DB from a gallery, FT_E_INVALID from arrays).
ft_status ft_gallery__matrix_row_fix(ft_match_matrix *m, size_t r, ft_status bad, const char *path,
                                     long long id, ft_err *err);
// Squared Euclidean distances from q (dim floats, already a unit vector
// for a cosine matrix) to rows i0..i0+nb-1; and the matrix's distance for
// such a value (sqrt(d2), or d2 / 2 for cosine).
void ft_gallery__matrix_d2(const ft_match_matrix *m, const float *q, size_t i0, size_t nb,
                           float *out);
double ft_gallery__matrix_dist(const ft_match_matrix *m, float d2);

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

// Descriptor of n floats <-> 4n-byte little-endian BLOB.
void ft_gallery__desc_to_le(const float *d, size_t n, uint8_t *out);
void ft_gallery__desc_from_le(const uint8_t *p, size_t n, float *d);
// Packs n samples whose descriptors live in `floats` (sample i's at
// offs[i]) into one ft_malloc'd block, descriptors after the array.
ft_status ft_gallery__samples_pack(const ft_sample *v, size_t n, const float *floats,
                                   const size_t *offs, ft_sample **out, ft_err *err);

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

// Writes the armed audit row (g->audit_armed, see struct ft_gallery) into
// out's fields: its target, or "<action up to its first '.'>:<audit_id>"
// when the entry has none (audit.c). For the backends' commits.
void ft_gallery__audit_armed_target(const ft_gallery *g, char out[FT_AUDIT_TARGET_MAX + 1]);

// Stores a calibration result (threshold, calibrated_*, the FAR table)
// and its audit row in one transaction (settings.c).
ft_status ft_gallery__calibration_store(ft_gallery *g, const ft_policy_space *sp,
                                        const ft_calib_result *r, const ft_calib_opts *o,
                                        ft_err *err);

// The generation counter (settings "generation").
ft_status ft_gallery__generation(ft_gallery *g, int64_t *out, ft_err *err);

// ---- Argument rules shared by every backend ----

// External id and notes of a person (NULL = not given).
ft_status ft_gallery__extid_notes_check(const char *ext, const char *notes, ft_err *err);
// Sample i of an enrolment.
ft_status ft_gallery__sample_check(const ft_sample *x, size_t i, ft_err *err);
// An event to add; and a fresh uid (32 lowercase hex digits).
ft_status ft_gallery__event_check(const ft_event *ev, ft_err *err);
ft_status ft_gallery__uid_new(char out[33], ft_err *err);
ft_status ft_gallery__event_query_check(const ft_event_query *q, ft_err *err);
// One CSV row of an event (door: the schema-3 columns too), and the header.
ft_status ft_gallery__event_csv_header(ft_buf *b, bool door);
ft_status ft_gallery__event_csv_row(ft_buf *b, const ft_event *e, bool door);
ft_status ft_gallery__sink_check(const char *sink, ft_err *err);
// An outbox error text cut (at a UTF-8 boundary) to what is stored.
void ft_gallery__outbox_error_copy(char dst[256], const char *e);
ft_status ft_gallery__setting_key_check(const char *key, ft_err *err);
ft_status ft_gallery__audit_check(const char *actor, const char *action, const char *target,
                                  const char *detail, ft_err *err);

// ---- The SQLite backend's operations (store_sqlite.c's table) ----

ft_status ft_store__sqlite_open(ft_gallery *g, const char *path, const ft_gallery_opts *o,
                                ft_err *err);
void ft_gallery__sq_close(ft_gallery *g);
ft_status ft_gallery__sq_counts_get(ft_gallery *g, ft_gallery_counts *out, ft_err *err);
ft_status ft_gallery__sq_check(ft_gallery *g, ft_err *err);
ft_status ft_gallery__sq_person_add(ft_gallery *g, const char *name, const char *external_id,
                                    const char *notes, int64_t *id_out, ft_err *err);
ft_status ft_gallery__sq_person_get(ft_gallery *g, int64_t id, ft_person *out, ft_err *err);
ft_status ft_gallery__sq_person_find(ft_gallery *g, const char *name, ft_person *out,
                                     ft_err *err);
ft_status ft_gallery__sq_people_list(ft_gallery *g, ft_person **out, size_t *n, ft_err *err);
ft_status ft_gallery__sq_person_rename(ft_gallery *g, int64_t id, const char *name, ft_err *err);
ft_status ft_gallery__sq_person_update(ft_gallery *g, int64_t id, const char *external_id,
                                       const char *notes, ft_err *err);
ft_status ft_gallery__sq_person_delete(ft_gallery *g, int64_t id, ft_err *err);
ft_status ft_gallery__sq_person_erase(ft_gallery *g, int64_t id, const char *actor,
                                      ft_erase_result *out, ft_err *err);
ft_status ft_gallery__sq_enroll(ft_gallery *g, int64_t person_id, const char *name,
                                const char *external_id, const char *notes,
                                const ft_sample *samples, size_t n, int64_t *person_out,
                                int64_t *sample_ids, ft_err *err);
ft_status ft_gallery__sq_samples_list(ft_gallery *g, int64_t person_id, ft_sample **out,
                                      size_t *n, ft_err *err);
ft_status ft_gallery__sq_sample_delete(ft_gallery *g, int64_t sample_id, ft_err *err);
ft_status ft_gallery__sq_sample_thumbnail(ft_gallery *g, int64_t sample_id, ft_buf *out,
                                          ft_err *err);
ft_status ft_gallery__sq_event_add_outbox(ft_gallery *g, ft_event *ev, const char *const *sinks,
                                          size_t n_sinks, ft_err *err);
ft_status ft_gallery__sq_events_query(ft_gallery *g, const ft_event_query *q, ft_event **out,
                                      size_t *n, int64_t *total, ft_err *err);
ft_status ft_gallery__sq_event_get(ft_gallery *g, int64_t id, ft_event *out, ft_err *err);
ft_status ft_gallery__sq_event_thumbnail(ft_gallery *g, int64_t event_id, ft_buf *out,
                                         ft_err *err);
ft_status ft_gallery__sq_events_csv(ft_gallery *g, const ft_event_query *q, ft_buf *out,
                                    ft_err *err);
ft_status ft_gallery__sq_outbox_due(ft_gallery *g, const char *sink, double now, size_t limit,
                                    ft_outbox_item **out, size_t *n, ft_err *err);
ft_status ft_gallery__sq_outbox_done(ft_gallery *g, int64_t id, ft_err *err);
ft_status ft_gallery__sq_outbox_retry(ft_gallery *g, int64_t id, double next_at,
                                      const char *error, ft_err *err);
ft_status ft_gallery__sq_outbox_fail(ft_gallery *g, int64_t id, const char *error, ft_err *err);
ft_status ft_gallery__sq_outbox_count(ft_gallery *g, const char *sink, int64_t *pending,
                                      int64_t *failed, ft_err *err);
ft_status ft_gallery__sq_setting_get(ft_gallery *g, const char *key, char *out, size_t cap,
                                     ft_err *err);
ft_status ft_gallery__sq_settings_write(ft_gallery *g, const char *const *keys,
                                        const char *const *values, size_t n,
                                        const ft_store_audit *audit, ft_err *err);
ft_status ft_gallery__sq_key_insert(ft_gallery *g, const char *name, ft_key_role role,
                                    const char *salt,
                                    void (*hash)(int64_t id, void *arg, char out[65]), void *arg,
                                    int64_t *id_out, ft_err *err);
ft_status ft_gallery__sq_keys_list(ft_gallery *g, ft_api_key **out, size_t *n, ft_err *err);
ft_status ft_gallery__sq_key_revoke(ft_gallery *g, int64_t id, ft_err *err);
ft_status ft_gallery__sq_key_lookup(ft_gallery *g, int64_t id, ft_api_key *k, bool *revoked,
                                    char salt[40], char hash[65], ft_err *err);
ft_status ft_gallery__sq_key_touch(ft_gallery *g, int64_t id, double now, ft_err *err);
ft_status ft_gallery__sq_audit_add(ft_gallery *g, const char *actor, const char *action,
                                   const char *target, const char *detail_json, ft_err *err);
ft_status ft_gallery__sq_audit_query(ft_gallery *g, double since, size_t limit,
                                     bool oldest_first, ft_audit_row **out, size_t *n,
                                     int64_t *total, ft_err *err);
ft_status ft_gallery__sq_retention(ft_gallery *g, double events_before, double thumbs_before,
                                   int64_t event_days, int64_t thumb_days,
                                   ft_retention_result *res, ft_err *err);
ft_status ft_gallery__sq_matrix_load(ft_gallery *g, const ft_gallery_space *sp,
                                     ft_match_matrix **out, ft_err *err);
ft_status ft_gallery__sq_sample_region(ft_gallery *g, int64_t sample_id, ft_buf *out,
                                       float box[4], ft_err *err);
bool ft_gallery__sq_quiet_since(ft_gallery *g, const ft_store_mark *mark, int64_t cookie_now[2]);
ft_status ft_gallery__sq_writable_probe(ft_gallery *g, ft_err *err);
ft_status ft_gallery__sq_backup(ft_gallery *g, const char *dest, ft_err *err);

#endif
