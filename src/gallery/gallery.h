// The gallery: the enrolled people, their face descriptors (samples), the
// access events, settings and API keys, plus the in-memory descriptor
// matrix used for 1:N matching and the threshold calibration. Sits on core
// only; src/access builds the access decision on top of it.
//
// Storage: one SQLite file (the default, `--db PATH`) or a PostgreSQL
// database shared by many servers (`--db postgresql://USER@HOST:PORT/DB`,
// any libpq connection string; passwords from the string, PGPASSWORD or
// ~/.pgpass, never shown: ft_gallery_path() and every message carry the
// string with its password masked). The backends sit behind one table of
// operations (store.h); every function below works on both unless it says
// "SQLite only" (those answer FT_E_UNSUPPORTED on PostgreSQL).
//
// Threading: an ft_gallery is one connection. Use it from one thread at a
// time; give every thread (HTTP worker, CLI, camera loop) its own handle
// from ft_gallery_open(). Any number of handles, in any number of
// processes, may share one gallery: a SQLite file is in WAL mode, writers
// wait up to busy_timeout_ms for each other and then fail with FT_E_BUSY
// (on PostgreSQL the same wait is the session's lock_timeout). A loaded
// ft_match_matrix is immutable and may be read by many threads at once.
//
// Errors: FT_E_INVALID (bad argument: name, key, threshold...), FT_E_NOT_FOUND,
// FT_E_EXISTS (duplicate name or external id), FT_E_BUSY (locked by another
// connection past the busy timeout), FT_E_DB (corrupt or foreign file,
// read-only database, SQL failure), FT_E_UNSUPPORTED (schema newer than this
// build; an operation the backend lacks), FT_E_IO (cannot open/create the
// file, disk full, the database server unreachable), FT_E_NOMEM,
// FT_E_CONFIRM (a change that loosens security, not confirmed).
// Every message in ft_err names what failed.
#ifndef FT_GALLERY_GALLERY_H
#define FT_GALLERY_GALLERY_H

#include "core/buf.h"
#include "core/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FT_GALLERY_DEFAULT_PATH "./facetracker.db"
#define FT_GALLERY_SCHEMA_VERSION 6
#define FT_GALLERY_DIM_MAX 4096 // longest descriptor a sample may hold (floats)

#define FT_GALLERY_NAME_MAX 100   // bytes of UTF-8, for people, keys, sources
#define FT_GALLERY_NOTES_MAX 1000 // bytes
#define FT_GALLERY_MODEL_MAX 63   // bytes of a descriptor space's name

// How descriptors of one space compare. Euclidean: |a - b|. Cosine:
// 1 - a.b / (|a| |b|), in [0, 2]; a matrix of a cosine space holds unit
// rows, and the distance is computed as |a - b|^2 / 2 on unit vectors.
typedef enum ft_metric {
    FT_METRIC_EUCLIDEAN = 0,
    FT_METRIC_COSINE = 1,
} ft_metric;

const char *ft_metric_str(ft_metric m); // "euclidean", "cosine"

// A descriptor space as the gallery sees it: the samples whose `model` is
// `name`, all of `dim` floats, compared by `metric`. The gallery knows no
// network; src/face/descriptor.h's registry says which spaces exist.
typedef struct ft_gallery_space {
    const char *name; // the samples' space string (ft_sample.model)
    size_t dim;       // 1..FT_GALLERY_DIM_MAX
    ft_metric metric;
} ft_gallery_space;

typedef struct ft_gallery ft_gallery;

// One audit row to write with an administrative action (see "Audit"
// below): actor NULL or "" = "unknown"; target NULL = "<object>:<id>",
// the object being the action up to its first '.' and the id that of the
// row the action created or changed; detail NULL = "{}", else a JSON
// object text. The strings are borrowed for the call.
typedef struct ft_audit_entry {
    const char *actor, *action, *target, *detail;
} ft_audit_entry;

// ---- Opening ----

enum {
    FT_GALLERY_READONLY = 1u << 0,  // open read-only; every write fails with FT_E_DB
    FT_GALLERY_NO_CREATE = 1u << 1, // fail with FT_E_NOT_FOUND if the file does not exist
};

typedef struct ft_gallery_opts {
    unsigned flags;       // FT_GALLERY_*
    int busy_timeout_ms;  // default 5000
    // Test hook: called inside write transactions at named points
    // ("enroll:person", after the person row; "enroll:samples", after the
    // samples, before COMMIT) so crash tests can kill the process there.
    // NULL in production.
    void (*test_hook)(const char *point, void *arg);
    void *test_hook_arg;
} ft_gallery_opts;

ft_gallery_opts ft_gallery_opts_default(void);

// Opens (creating if needed, unless READONLY/NO_CREATE) the gallery at
// `path` (NULL = FT_GALLERY_DEFAULT_PATH): "postgresql://..." or
// "postgres://..." is a PostgreSQL database (the tables in the session's
// current schema; created or migrated in one transaction under an
// advisory lock, so servers starting together end with one schema;
// unreachable: FT_E_IO), anything else a SQLite file. For SQLite: turns on
// WAL, foreign keys and secure_delete, and migrates an older schema to
// FT_GALLERY_SCHEMA_VERSION one version per transaction. A file written by a newer facetracker fails
// with FT_E_UNSUPPORTED; a non-database or corrupt file with FT_E_DB. A
// read-only file (permissions) opens as if READONLY was given, if its schema
// is current. `o` may be NULL for defaults.
ft_status ft_gallery_open(const char *path, const ft_gallery_opts *o, ft_gallery **out,
                          ft_err *err);
void ft_gallery_close(ft_gallery *g); // NULL is a no-op

bool ft_gallery_readonly(const ft_gallery *g);
// The SQLite path, or the connection string with its password masked;
// borrowed, lives as long as g.
const char *ft_gallery_path(const ft_gallery *g);
int ft_gallery_schema_version(const ft_gallery *g);

// Row counts, for status pages and tests.
typedef struct ft_gallery_counts {
    int64_t people, samples, events, api_keys;
} ft_gallery_counts;
ft_status ft_gallery_counts_get(ft_gallery *g, ft_gallery_counts *out, ft_err *err);

// PRAGMA integrity_check (and foreign_key_check): FT_OK, or FT_E_DB with
// the first problem reported. PostgreSQL: checks the schema version and
// the change-feed row (the server keeps its own pages consistent).
ft_status ft_gallery_check(ft_gallery *g, ft_err *err);

// Validates a display name: non-empty, at most FT_GALLERY_NAME_MAX bytes,
// valid UTF-8 (no overlongs or surrogates), no control characters (C0, DEL,
// C1), no leading or trailing space, not all digits (an all-digit name
// would read as an id on a command line). FT_E_INVALID with the reason.
ft_status ft_gallery_name_check(const char *name, ft_err *err);

// ---- People ----

// Names are unique (exact bytes): enrolment by name must find one person.
typedef struct ft_person {
    int64_t id;
    char name[FT_GALLERY_NAME_MAX + 1];
    char external_id[FT_GALLERY_NAME_MAX + 1]; // "" = none
    char notes[FT_GALLERY_NOTES_MAX + 1];
    double created_at, updated_at; // Unix seconds
    int64_t n_samples;
} ft_person;

// external_id and notes may be NULL or "". FT_E_EXISTS if the name or the
// external id is taken.
ft_status ft_gallery_person_add(ft_gallery *g, const char *name, const char *external_id,
                                const char *notes, int64_t *id_out, ft_err *err);
ft_status ft_gallery_person_get(ft_gallery *g, int64_t id, ft_person *out, ft_err *err);
// By exact name; FT_E_NOT_FOUND if nobody has it.
ft_status ft_gallery_person_find(ft_gallery *g, const char *name, ft_person *out, ft_err *err);
// All people ordered by name; *out is an ft_malloc'd array the caller frees
// with ft_free (NULL when *n == 0).
ft_status ft_gallery_people_list(ft_gallery *g, ft_person **out, size_t *n, ft_err *err);
ft_status ft_gallery_person_rename(ft_gallery *g, int64_t id, const char *name, ft_err *err);
// NULL leaves a field unchanged; "" clears it.
ft_status ft_gallery_person_update(ft_gallery *g, int64_t id, const char *external_id,
                                   const char *notes, ft_err *err);
// Deletes the person, all their samples (descriptors and thumbnails) and
// the thumbnails of their events, in one transaction. Their events stay,
// with person_id NULL and name_at_time kept. secure_delete zeroes the freed
// pages.
ft_status ft_gallery_person_delete(ft_gallery *g, int64_t id, ft_err *err);

// ---- Samples and enrolment ----

typedef struct ft_sample {
    int64_t id, person_id; // output only
    // The vector, raw as the network gave it (not normalised), `dim`
    // floats. Input: borrowed. Output of a list: points into the list's
    // own block (one ft_free releases both).
    float *descriptor;
    uint32_t dim; // 1..FT_GALLERY_DIM_MAX; stored as a BLOB of 4 * dim bytes
    char model[FT_GALLERY_MODEL_MAX + 1]; // the descriptor space; required
    char alignment[16];   // "faceapi", "similarity" or "box"; "" = "faceapi" on input
    double detector_score;
    int32_t face_w, face_h; // detection box in pixels
    char source_sha256[65]; // hex of the source image bytes, "" = unknown
    double created_at;      // output only
    // Input: borrowed JPEG bytes (may be NULL). Output of list: NULL, with
    // thumbnail_len set; fetch the bytes with ft_gallery_sample_thumbnail.
    const uint8_t *thumbnail;
    size_t thumbnail_len;
    // Schema 5: the face region of the source photo, a JPEG with enough
    // margin around the face for every descriptor space's crop, so that a
    // new space can be computed later (facetracker gallery reindex); and
    // the detection box inside it (x, y, w, h in the region's pixels).
    // Input: borrowed (NULL = none kept). Output of list: NULL with
    // region_len set; fetch with ft_gallery_sample_region.
    const uint8_t *region;
    size_t region_len;
    float region_box[4];
    // Schema 6: the detector that found the face, so the box means what it
    // meant at enrolment (the landmark crop is cut from ft_landmark_box of
    // that detector, face/face.h): "yunet", "ssd", "tiny", "trained" (the
    // single-face model of serve --model), or "" = not recorded (samples
    // from before schema 6). Input and output.
    char detector[16];
} ft_sample;

// Whether `name` may be stored in ft_sample.detector (one of the values
// above, "" included).
bool ft_gallery_detector_valid(const char *name);

#define FT_GALLERY_THUMB_MAX (1u << 20) // 1 MiB per thumbnail

// Enrols `n` >= 1 samples of one person in ONE transaction: the person is
// `person_id` if > 0 (FT_E_NOT_FOUND if missing), else the person called
// `name`, created if new. Either everything is written or nothing: a crash
// never leaves a person without samples. Descriptors must be finite.
// *person_out (may be NULL) receives the person's id, sample_ids (may be
// NULL, else n entries) the new samples' ids. Callers apply the quality
// gate (ft_access_quality) before enrolling.
ft_status ft_gallery_enroll(ft_gallery *g, int64_t person_id, const char *name,
                            const ft_sample *samples, size_t n, int64_t *person_out,
                            int64_t *sample_ids, ft_err *err);
// Samples of one person (person_id > 0) or of everyone (0), ordered by id;
// *out is one ft_malloc'd block holding the array and every descriptor:
// free it with ft_free.
ft_status ft_gallery_samples_list(ft_gallery *g, int64_t person_id, ft_sample **out, size_t *n,
                                  ft_err *err);
ft_status ft_gallery_sample_delete(ft_gallery *g, int64_t sample_id, ft_err *err);
// Replaces the contents of `out` with the thumbnail bytes (empty if none).
ft_status ft_gallery_sample_thumbnail(ft_gallery *g, int64_t sample_id, ft_buf *out, ft_err *err);
// Replaces the contents of `out` with the face region's JPEG (empty if the
// sample has none) and writes the box inside it to box (may be NULL).
ft_status ft_gallery_sample_region(ft_gallery *g, int64_t sample_id, ft_buf *out, float box[4],
                                   ft_err *err);

// ---- Events ----

typedef enum ft_decision {
    FT_DECISION_DENIED = 0,
    FT_DECISION_GRANTED = 1,
} ft_decision;

const char *ft_decision_str(ft_decision d); // "denied" / "granted"

typedef struct ft_event {
    int64_t id;  // output
    double time; // Unix seconds; 0 on input = now
    char source[FT_GALLERY_NAME_MAX + 1]; // the door / camera
    ft_decision decision;
    char reason[32];       // "match", "unknown", "ambiguous", ...
    int64_t person_id;     // 0 = unknown
    char name_at_time[FT_GALLERY_NAME_MAX + 1]; // "" when unknown
    double distance, margin, detector_score;    // NaN = not applicable; margin may be +inf
    const uint8_t *thumbnail; // as for ft_sample
    size_t thumbnail_len;
    // Schema 3 (the door pipeline):
    char uid[33];          // idempotency key, 32 lowercase hex digits (random); "" on input = generated
    int64_t track_id;      // the door's face track (0 = none)
    int32_t frames;        // frames the decision was made from (0 = not recorded)
    double first_seen;     // Unix seconds the face was first seen; NaN = not recorded
    int64_t nearest_person_id;  // the closest enrolled person, also when denied (0 = none)
    char nearest_name[FT_GALLERY_NAME_MAX + 1];
    int64_t second_person_id;   // the closest OTHER person ("ambiguous": between these two)
    char second_name[FT_GALLERY_NAME_MAX + 1];
    double second_distance;     // NaN = none
} ft_event;

// An event with every field unset: zero / "" everywhere, NaN in distance,
// margin, detector_score, first_seen and second_distance.
void ft_event_init(ft_event *ev);

// Adds one event; fills ev->id, ev->time (if it was 0) and ev->uid (if it
// was ""; a given uid must be 32 lowercase hex digits, FT_E_EXISTS if
// taken). If person_id > 0 and name_at_time is empty the current name is
// recorded (likewise nearest_name / second_name for their ids). Zero
// track_id, frames, nearest/second person and a first_seen <= 0 or NaN are
// stored as NULL ("not recorded"); second_distance is stored only with a
// second person.
ft_status ft_gallery_event_add(ft_gallery *g, ft_event *ev, ft_err *err);

typedef struct ft_event_query {
    double since, until;  // time >= since and time < until; 0 = unbounded
    int64_t person_id;    // > 0: that person; 0: anyone; -1: unknown faces only
    int decision;         // -1 any, else an ft_decision
    const char *source;   // NULL = any
    size_t limit, offset; // limit 0 = no limit
    bool oldest_first;    // default newest first (time, then id)
    // CSV only: append the schema-3 columns (uid ... second_distance) after
    // the original eleven. Off by default so existing exports and their
    // readers see exactly the old columns.
    bool csv_door_columns;
} ft_event_query;

ft_event_query ft_event_query_default(void);

// Matching events (thumbnails not loaded, thumbnail_len set); free *out with
// ft_free. *total (may be NULL) gets the count ignoring limit/offset.
ft_status ft_gallery_events_query(ft_gallery *g, const ft_event_query *q, ft_event **out,
                                  size_t *n, int64_t *total, ft_err *err);
ft_status ft_gallery_event_thumbnail(ft_gallery *g, int64_t event_id, ft_buf *out, ft_err *err);
// One event by id (thumbnail not loaded, thumbnail_len set); FT_E_NOT_FOUND.
ft_status ft_gallery_event_get(ft_gallery *g, int64_t id, ft_event *out, ft_err *err);

// The event as one JSON object, the one format of every place an event
// leaves facetracker (watch's output, webhooks, MQTT, the door hook, the
// API): {"event_id", "event_uid", "source", "track", "decision", "reason",
// "person": {"id", "name"} or null, "distance", "margin", "detector_score",
// "frames", "first_seen", "decided_at", "nearest": {"id", "name"} or null,
// "second": {"id", "name", "distance"} or null}. Times are Unix seconds;
// NaN and infinities are null. Appends to `out`.
ft_status ft_gallery_event_json(const ft_event *ev, ft_buf *out);

// ---- Outbox: events waiting to be delivered ----
//
// An event is stored first, together with one outbox row per sink that must
// receive it (webhook, MQTT, door hook), in ONE transaction; src/deliver
// then sends each row and marks it delivered. A crash between sending and
// marking sends that one row again after the restart: receivers tell
// repeats apart by the event's uid (the idempotency key).

#define FT_OUTBOX_SINK_MAX 200 // bytes of a sink name ("webhook https://...", "mqtt host:1883", "hook")

// Adds the event (as ft_gallery_event_add) and an outbox row for each of
// the `n_sinks` sink names, in one transaction.
ft_status ft_gallery_event_add_outbox(ft_gallery *g, ft_event *ev, const char *const *sinks,
                                      size_t n_sinks, ft_err *err);

typedef struct ft_outbox_item {
    int64_t id, event_id;
    char sink[FT_OUTBOX_SINK_MAX + 1];
    int32_t attempts;
    double created_at, next_at; // Unix seconds
    char last_error[256];
} ft_outbox_item;

// Undelivered rows of `sink` with next_at <= now, oldest first (by id), at
// most `limit`; free *out with ft_free. Stops before the first pending row
// whose next_at is still in the future, so a sink never overtakes a row
// waiting for its retry: its rows go out in order.
ft_status ft_gallery_outbox_due(ft_gallery *g, const char *sink, double now, size_t limit,
                                ft_outbox_item **out, size_t *n, ft_err *err);
// Marks a row delivered (it is never returned again).
ft_status ft_gallery_outbox_done(ft_gallery *g, int64_t id, ft_err *err);
// Records a failed attempt: attempts + 1, the error, the next try's time.
ft_status ft_gallery_outbox_retry(ft_gallery *g, int64_t id, double next_at, const char *error,
                                  ft_err *err);
// Gives up on a row (delivered_at stays NULL, failed_at set): it is never
// returned again, and counted as failed.
ft_status ft_gallery_outbox_fail(ft_gallery *g, int64_t id, const char *error, ft_err *err);
// Undelivered (pending) and given-up (failed) rows of `sink` (NULL = all).
ft_status ft_gallery_outbox_count(ft_gallery *g, const char *sink, int64_t *pending,
                                  int64_t *failed, ft_err *err);
// Appends the matching events to `out` as CSV (RFC 4180: CRLF, quoted
// fields where needed, header row): id,time,time_utc,source,decision,reason,
// person_id,name,distance,margin,detector_score (and, with
// q->csv_door_columns, uid,track_id,frames,first_seen,nearest_person_id,
// nearest_name,second_person_id,second_name,second_distance). Text cells starting with
// = + - @ get a leading ' so spreadsheets do not run them as formulas.
ft_status ft_gallery_events_csv(ft_gallery *g, const ft_event_query *q, ft_buf *out,
                                ft_err *err);

// ---- Settings ----

// Keys: 1..64 bytes of [a-z0-9_.]. Values: text up to 4096 bytes. The key
// "generation" is reserved (the change counter for matrix reloads).
// get: FT_E_NOT_FOUND if unset; FT_E_LIMIT if the value does not fit `cap`.
ft_status ft_gallery_setting_get(ft_gallery *g, const char *key, char *out, size_t cap,
                                 ft_err *err);
ft_status ft_gallery_setting_set(ft_gallery *g, const char *key, const char *value, ft_err *err);
ft_status ft_gallery_setting_delete(ft_gallery *g, const char *key, ft_err *err);
// Sets (values[i] != NULL) or deletes (NULL) n plain settings, with the
// audit row `a` (NULL = none; its target is written as given), in ONE
// transaction: nothing is kept if the row cannot be written.
ft_status ft_gallery_settings_set_audited(ft_gallery *g, const char *const *keys,
                                          const char *const *values, size_t n,
                                          const ft_audit_entry *a, ft_err *err);
// Typed: unset -> `def`; a value that does not parse fully -> FT_E_FORMAT.
ft_status ft_gallery_setting_get_double(ft_gallery *g, const char *key, double def, double *out,
                                        ft_err *err);
ft_status ft_gallery_setting_set_double(ft_gallery *g, const char *key, double v, ft_err *err);
ft_status ft_gallery_setting_get_int(ft_gallery *g, const char *key, int64_t def, int64_t *out,
                                     ft_err *err);
ft_status ft_gallery_setting_set_int(ft_gallery *g, const char *key, int64_t v, ft_err *err);

// The access policy, stored as settings "threshold", "margin",
// "min_face_px", "min_detector_score", "person_cap" (one transaction).
// Threshold and margin (and the calibration record) belong to one
// descriptor space (ft_policy_space below); the quality gate and
// person_cap are shared by every space. The functions without a space
// work on the unsuffixed keys, written for face-api's ResNet (resnet128)
// before there were several spaces.
//
// Defaults: threshold 0.5, stricter than face-api's 0.6 (which was tuned on
// LFW for equal error, not for a door where a false accept costs more than
// a retry) until ft_gallery_calibrate() stores a measured value; margin
// 0.05; faces at least 80 px on their shorter side (the recogniser's input
// is 150x150; smaller faces are upsampled blur); detector score >= 0.8.
//
// Bounds (ft_gallery_policy_check): the descriptors are face-api's raw
// 128-d vectors, whose Euclidean distances between different photos lie in
// about [0, 1.4], with same-person pairs mostly under 0.5 and face-api's
// equal-error point at 0.6. A threshold above 1.0 accepts most strangers
// and a margin above 0.5 rejects nearly everyone, so neither means anything
// for a door: threshold (0, 1.0], margin [0, 0.5]. min_face_px [20, 2000]:
// the detectors find nothing usable under 20 px, and 2000 px is a
// full-frame face at 4K. min_detector_score [0, 1].
typedef struct ft_gallery_policy {
    double threshold;          // known iff best distance < threshold; (0, 1]
    double margin;             // known iff next other person >= best + margin; [0, 0.5]
    double min_face_px;        // min(face w, h) >= this; [20, 2000]
    double min_detector_score; // detector score >= this; [0, 1]
    // Per-person thresholds (access/openset.h): person p is known only
    // below min(threshold, person_cap * D_p), D_p the distance from p's
    // samples to the nearest other enrolled person, so a person with a
    // look-alike enrolled gets a tighter threshold and a stranger who
    // resembles both is not let in. [0, 1]; 0 = off. Default 0.8, chosen
    // on the development sets (docs/ACCURACY.md, "Strangers").
    double person_cap;
} ft_gallery_policy;

#define FT_GALLERY_THRESHOLD_MAX 1.0
#define FT_GALLERY_MARGIN_MAX 0.5
#define FT_GALLERY_MIN_FACE_PX_MIN 20.0
#define FT_GALLERY_MIN_FACE_PX_MAX 2000.0
// The documented safe maximum: face-api's own equal-error threshold
// (tuned on LFW, where a false accept and a false reject cost the same). A
// door threshold above it needs an explicit confirmation.
#define FT_GALLERY_SAFE_THRESHOLD 0.6
// The loosest calibration target that needs no confirmation (1 % FAR).
#define FT_GALLERY_SAFE_FAR 0.01

#define FT_GALLERY_DEFAULT_THRESHOLD 0.5
#define FT_GALLERY_DEFAULT_MARGIN 0.05
#define FT_GALLERY_DEFAULT_MIN_FACE_PX 80.0
#define FT_GALLERY_DEFAULT_MIN_SCORE 0.8
#define FT_GALLERY_DEFAULT_PERSON_CAP 0.8

ft_gallery_policy ft_gallery_policy_default(void);
// Unset settings take the defaults; out-of-range values are FT_E_INVALID.
ft_status ft_gallery_policy_load(ft_gallery *g, ft_gallery_policy *out, ft_err *err);
ft_status ft_gallery_policy_check(const ft_gallery_policy *p, ft_err *err);
ft_status ft_gallery_policy_save(ft_gallery *g, const ft_gallery_policy *p, ft_err *err);

// ---- The policy per descriptor space ----
//
// Distances mean different things in different spaces (resnet128:
// Euclidean on raw 128-d vectors, about [0, 1.4]; faceres: cosine on
// 1024-d vectors, [0, 1]), so each space has its own threshold, margin
// and calibration. The caller describes the space (access/access.h builds
// it from the descriptor registry; the gallery knows no network):
//  - legacy_keys: its settings are the unsuffixed "threshold", "margin",
//    "calibrated_threshold", "calibrated_far", "calibrated_target",
//    "calibrated_at", "calibration_far" (resnet128, for which galleries
//    stored them before); otherwise the same names with "." and the
//    space's name appended ("threshold.faceres", "margin.faceres",
//    "calibrated_threshold.faceres", ...).
//  - threshold, margin: used while the space's keys are unset (a gallery
//    that never stored them reads these, never another space's values).
//  - safe_threshold: raising the threshold above it needs a confirmation
//    (resnet128: FT_GALLERY_SAFE_THRESHOLD, face-api's equal-error point).
//  - threshold_max: the bound, threshold in (0, threshold_max].
// "min_face_px", "min_detector_score" and "person_cap" are one set of keys
// for all spaces.
#define FT_POLICY_SPACE_NAME_MAX 32

typedef struct ft_policy_space {
    const char *name; // 1..32 bytes of [a-z0-9_]: the key suffix, and in messages and audit
    bool legacy_keys; // the unsuffixed keys (see above)
    double threshold, margin; // defaults while unset
    double safe_threshold;    // a raise above it needs a confirmation
    double threshold_max;     // threshold in (0, threshold_max]; <= FT_GALLERY_THRESHOLD_MAX
} ft_policy_space;

// The space of the unsuffixed keys, as the functions without a space use
// it: "resnet128", FT_GALLERY_DEFAULT_THRESHOLD / _MARGIN,
// FT_GALLERY_SAFE_THRESHOLD, FT_GALLERY_THRESHOLD_MAX.
ft_policy_space ft_policy_space_legacy(void);
// FT_OK, or FT_E_INVALID for a bad name or bounds (0 < safe_threshold <=
// threshold_max <= FT_GALLERY_THRESHOLD_MAX, defaults within bounds).
ft_status ft_policy_space_check(const ft_policy_space *sp, ft_err *err);
// The setting key of `base` ("threshold", "calibrated_far", ...) in sp:
// base itself with legacy keys, else "base.name". FT_E_INVALID if it does
// not fit 64 bytes.
ft_status ft_policy_space_key(const ft_policy_space *sp, const char *base, char *out, size_t cap,
                              ft_err *err);

// The defaults with sp's threshold and margin.
ft_gallery_policy ft_gallery_policy_default_for(const ft_policy_space *sp);
// Bounds as ft_gallery_policy_check, with threshold in (0, sp->threshold_max].
ft_status ft_gallery_policy_check_for(const ft_policy_space *sp, const ft_gallery_policy *p,
                                      ft_err *err);
// sp's threshold and margin with the shared gate and person_cap; unset
// keys take sp's defaults (or the shared defaults); out of bounds is
// FT_E_INVALID.
ft_status ft_gallery_policy_load_for(ft_gallery *g, const ft_policy_space *sp,
                                     ft_gallery_policy *out, ft_err *err);
// Stores sp's threshold and margin and the shared keys in one
// transaction, unchecked for loosening (tests, tools; administrators go
// through ft_gallery_policy_change_for).
ft_status ft_gallery_policy_save_for(ft_gallery *g, const ft_policy_space *sp,
                                     const ft_gallery_policy *p, ft_err *err);

// ---- Policy changes: bounds, confirmation, audit ----
//
// A change that loosens security needs an explicit confirmation:
//  - a threshold above the space's calibrated one (setting
//    "calibrated_threshold", stored by ft_gallery_calibrate) or above the
//    space's safe maximum (FT_GALLERY_SAFE_THRESHOLD for resnet128), when
//    it is also above the stored threshold (tightening or keeping a value
//    never needs one);
//  - person_cap raised, or set to 0 (off) from a value > 0: each person's
//    own threshold then lets more look-alikes in (0 -> anything tightens).
// Margin and quality-gate changes are bounded and audited.

typedef struct ft_policy_review {
    bool loosens;               // the change needs a confirmation
    char why[640];              // what it loosens and what to expect; "" if nothing
    double calibrated_threshold; // NaN if never calibrated (with store)
    double calibrated_far;       // FAR at the calibrated threshold; NaN if unknown
    double expected_far;         // FAR the calibration table gives for the new threshold; NaN if unknown
} ft_policy_review;

// Says whether moving from the stored policy to `p` loosens security, and
// what false-accept rate the stored calibration table expects at p's
// threshold. Read-only.
ft_status ft_gallery_policy_review(ft_gallery *g, const ft_gallery_policy *p,
                                   ft_policy_review *out, ft_err *err);

// The one way administrators change the policy: bounds check, review,
// then (if it does not loosen, or `confirm`) the four settings and an
// audit row ("settings.change", actor, old and new values, the review) in
// one transaction. An unconfirmed loosening is FT_E_CONFIRM with the
// review's text, and nothing is written. `review` (may be NULL) receives
// the review either way.
ft_status ft_gallery_policy_change(ft_gallery *g, const ft_gallery_policy *p, bool confirm,
                                   const char *actor, ft_policy_review *review, ft_err *err);

// The same for space sp (its threshold, margin and calibration; the
// shared keys as above). The audit detail names the space ("space") and
// has old and new of all five fields.
ft_status ft_gallery_policy_review_for(ft_gallery *g, const ft_policy_space *sp,
                                       const ft_gallery_policy *p, ft_policy_review *out,
                                       ft_err *err);
ft_status ft_gallery_policy_change_for(ft_gallery *g, const ft_policy_space *sp,
                                       const ft_gallery_policy *p, bool confirm,
                                       const char *actor, ft_policy_review *review, ft_err *err);

// The calibration stored with the threshold: the FAR table as text
// "t:far t:far ..." (setting "calibration_far"). FAR at the smallest grid
// threshold >= t, which bounds the FAR at t from above; NaN when there is
// no table or t is past its end.
ft_status ft_gallery_calibrated_far(ft_gallery *g, double threshold, double *far, ft_err *err);
ft_status ft_gallery_calibrated_far_for(ft_gallery *g, const ft_policy_space *sp, double threshold,
                                        double *far, ft_err *err);

// ---- Retention ----
//
// Settings "retention_thumbnails_days" (default 90: face images of events
// older than that are removed, the event rows stay) and
// "retention_events_days" (default 0 = keep events forever). Integers >= 0.
#define FT_GALLERY_DEFAULT_RETENTION_THUMBS_DAYS 90
#define FT_GALLERY_DEFAULT_RETENTION_EVENTS_DAYS 0

typedef struct ft_retention_result {
    int64_t thumbnails_removed; // event thumbnails cleared
    int64_t events_removed;     // event rows deleted (their outbox rows with them)
    double thumbnails_before, events_before; // the cut-off times used (0 = none)
} ft_retention_result;

// Applies the retention settings as of `now` (Unix seconds; 0 = the wall
// clock) in one transaction. Server and `events purge` call it. `out` may
// be NULL. Not audited when nothing was removed.
ft_status ft_gallery_retention_apply(ft_gallery *g, double now, ft_retention_result *out,
                                     ft_err *err);

typedef struct ft_erase_result {
    char name[FT_GALLERY_NAME_MAX + 1]; // the name the person had
    int64_t samples;     // samples deleted
    int64_t events;      // events whose name and face image were removed
} ft_erase_result;

// Erasure of one person: the person, their samples (descriptors and
// thumbnails), the face images of every event that names them (as the
// granted, nearest or second person), and their name in those events
// (blanked; the rows stay, with person_id NULL, so the log's counts stay
// true). One transaction, with an audit row ("person.erase") that records
// the id but not the name. FT_E_NOT_FOUND if there is no such person.
ft_status ft_gallery_person_erase(ft_gallery *g, int64_t id, const char *actor,
                                  ft_erase_result *out, ft_err *err);

// ---- Audit ----
//
// Every administrative action (enrol, sample add/delete, person
// delete/rename/update/erase, settings change, key create/revoke, camera
// add/remove) as one row: time, actor ("key:ID:NAME" for an API key,
// "local" for a key-less loopback server, "cli:USER" for the command
// line), action ("person.delete", ...), target ("person:12") and a JSON
// object of details. Rows are never changed or removed by facetracker.

#define FT_AUDIT_ACTOR_MAX 160
#define FT_AUDIT_ACTION_MAX 40
#define FT_AUDIT_TARGET_MAX 160
#define FT_AUDIT_DETAIL_MAX 4000

typedef struct ft_audit_row {
    int64_t id;
    double time;
    char actor[FT_AUDIT_ACTOR_MAX + 1];
    char action[FT_AUDIT_ACTION_MAX + 1];
    char target[FT_AUDIT_TARGET_MAX + 1];
    char detail[FT_AUDIT_DETAIL_MAX + 1]; // JSON object text
} ft_audit_row;

// Adds one row in its own transaction. actor and action required
// (non-empty, control-character free, bounded); target may be NULL or "";
// detail_json NULL = "{}", else must be a JSON object text of at most
// FT_AUDIT_DETAIL_MAX bytes (checked for a leading '{' only).
ft_status ft_gallery_audit_add(ft_gallery *g, const char *actor, const char *action,
                               const char *target, const char *detail_json, ft_err *err);

// Rows with time >= since (0 = all), newest first, at most `limit` (0 = no
// limit); free *out with ft_free. *total (may be NULL) ignores the limit.
ft_status ft_gallery_audit_query(ft_gallery *g, double since, size_t limit, ft_audit_row **out,
                                 size_t *n, int64_t *total, ft_err *err);

// The same rows, oldest first, as CSV (id,time,time_utc,actor,action,
// target,detail; quoted as RFC 4180, formula cells neutralised).
ft_status ft_gallery_audit_csv(ft_gallery *g, double since, ft_buf *out, ft_err *err);

// The command-line actor: "cli:" and the login name of the real user id
// (or "cli:uid N").
void ft_audit_cli_actor(char out[FT_AUDIT_ACTOR_MAX + 1]);

// ---- Storage health, backup and restore ----

// Whether the gallery can take writes now: FT_OK, or FT_E_DB (read-only
// handle or file, or a folder where the -wal/-shm files cannot be made) or
// FT_E_IO (under 1 MiB free on its file system: "disk full") with the
// reason. Cheap (no SQL write): for readiness probes. PostgreSQL: FT_E_DB
// for a read-only handle or a standby server, FT_E_IO if unreachable.
ft_status ft_gallery_writable_probe(ft_gallery *g, ft_err *err);
// The same checks for a gallery path without opening it (the HTTP
// server's /readyz runs on a thread without a connection). SQLite only.
ft_status ft_gallery_path_writable_probe(const char *path, ft_err *err);

// A consistent copy of the whole gallery at `dest` (SQLite's online backup
// in one step, under a read transaction, so the copy is one committed
// state even while other connections write). Written to "dest.tmp-PID",
// synced, checked with integrity_check, then renamed over `dest`: a
// failure never leaves a partial `dest`. The copy is a standalone
// rollback-journal file (no -wal needed). SQLite only (PostgreSQL:
// pg_dump, or "facetracker gallery copy").
ft_status ft_gallery_backup(ft_gallery *g, const char *dest, ft_err *err);

// Checks that `src` is a facetracker gallery (application_id, a schema
// this build can open) that passes integrity_check; FT_E_DB /
// FT_E_UNSUPPORTED / FT_E_NOT_FOUND with the reason otherwise. SQLite only.
ft_status ft_gallery_backup_check(const char *src, ft_gallery_counts *counts, ft_err *err);

// Replaces the gallery at `dest` with a checked copy of `src`
// (ft_gallery_backup_check first; then a copy to a temporary file beside
// dest, renamed over it, and dest's stale -wal/-shm removed). Nothing may
// have `dest` open: stop the server first (the CLI says so). SQLite only.
ft_status ft_gallery_restore(const char *src, const char *dest, ft_err *err);

// Copies a whole gallery into an empty one, between any backends (SQLite
// to PostgreSQL and back): people, samples (descriptors and thumbnails),
// events (with thumbnails), API keys (the salted hashes: tokens keep
// working), settings and the audit trail, with their ids, in ONE
// transaction on dst; then reads both back and compares each table's
// row count and SHA-256 over its rows. The outbox (one server's delivery
// state) is not copied. FT_E_EXISTS if dst holds anything; FT_E_DB if the
// check finds a difference. `out` may be NULL.
typedef struct ft_gallery_copy_result {
    int64_t people, samples, events, api_keys, settings, audit;
    char sha256[65]; // over every copied row of every table, equal on both sides
} ft_gallery_copy_result;
ft_status ft_gallery_copy(ft_gallery *src, ft_gallery *dst, ft_gallery_copy_result *out,
                          ft_err *err);

// ---- API keys ----

typedef enum ft_key_role {
    FT_ROLE_ADMIN = 0,
    FT_ROLE_DEVICE,
    FT_ROLE_VIEWER,
} ft_key_role;

const char *ft_key_role_str(ft_key_role r); // "admin", "device", "viewer"
// FT_E_INVALID for anything else.
ft_status ft_key_role_parse(const char *s, ft_key_role *out, ft_err *err);

typedef struct ft_api_key {
    int64_t id;
    char name[FT_GALLERY_NAME_MAX + 1];
    ft_key_role role;
    double created_at;
    double revoked_at;   // 0 = active
    double last_used_at; // 0 = never (updated at most once a minute)
} ft_api_key;

// A token is "ftk_<id>_<64 hex digits>": the hex digits are 32 random bytes
// from the kernel (getrandom, i.e. /dev/urandom's pool). Only
// SHA-256(salt || token) is stored, with a random 16-byte salt per key.
#define FT_KEY_TOKEN_MAX 96

// Creates a key and writes its token (shown once, never stored) to `token`.
ft_status ft_gallery_key_create(ft_gallery *g, const char *name, ft_key_role role,
                                char token[FT_KEY_TOKEN_MAX], int64_t *id_out, ft_err *err);
// All keys, revoked ones included, by id; free *out with ft_free.
ft_status ft_gallery_keys_list(ft_gallery *g, ft_api_key **out, size_t *n, ft_err *err);
// FT_E_NOT_FOUND if no such key; revoking twice is fine.
ft_status ft_gallery_key_revoke(ft_gallery *g, int64_t id, ft_err *err);
// Checks a presented token (constant-time hash compare). FT_E_AUTH for a
// malformed, unknown, wrong or revoked token (one message for all, so
// callers cannot leak which). On success fills `out` (may be NULL) and
// records last_used_at (skipped on a read-only gallery).
ft_status ft_gallery_key_verify(ft_gallery *g, const char *token, ft_api_key *out, ft_err *err);

// ---- Administrative writes with their audit row ----
//
// The write of the function named without "_audited", and the audit row
// `a` (NULL = none, then exactly that function), in ONE transaction on
// every backend: if the row cannot be written (bad entry, full disk, a
// crash before COMMIT) nothing of the action is kept and the error comes
// back; on FT_OK both are stored. Handlers and commands use these, so no
// administrative action can be done without its row, nor a row written
// for an action that did not happen.
ft_status ft_gallery_person_add_audited(ft_gallery *g, const char *name, const char *external_id,
                                        const char *notes, const ft_audit_entry *a,
                                        int64_t *id_out, ft_err *err);
ft_status ft_gallery_person_rename_audited(ft_gallery *g, int64_t id, const char *name,
                                           const ft_audit_entry *a, ft_err *err);
ft_status ft_gallery_person_update_audited(ft_gallery *g, int64_t id, const char *external_id,
                                           const char *notes, const ft_audit_entry *a,
                                           ft_err *err);
ft_status ft_gallery_person_delete_audited(ft_gallery *g, int64_t id, const ft_audit_entry *a,
                                           ft_err *err);
// Target NULL names the person enrolled ("person:ID"), new or not.
// external_id and notes (NULL = none; checked as ft_gallery_person_update
// does) are stored with a NEW person, in the same transaction; they are
// ignored when the person exists.
ft_status ft_gallery_enroll_audited(ft_gallery *g, int64_t person_id, const char *name,
                                    const char *external_id, const char *notes,
                                    const ft_sample *samples, size_t n, const ft_audit_entry *a,
                                    int64_t *person_out, int64_t *sample_ids, ft_err *err);
ft_status ft_gallery_sample_delete_audited(ft_gallery *g, int64_t sample_id,
                                           const ft_audit_entry *a, ft_err *err);
ft_status ft_gallery_key_create_audited(ft_gallery *g, const char *name, ft_key_role role,
                                        const ft_audit_entry *a, char token[FT_KEY_TOKEN_MAX],
                                        int64_t *id_out, ft_err *err);
ft_status ft_gallery_key_revoke_audited(ft_gallery *g, int64_t id, const ft_audit_entry *a,
                                        ft_err *err);

// ---- Matching ----

// The descriptors of ONE space as a row-major [n, dim] float matrix
// (64-byte aligned), rows grouped by person, with person and sample ids.
// A cosine space's rows are stored as unit vectors.
typedef struct ft_match_matrix ft_match_matrix;

// Loads the samples of `space` (required: descriptors of different spaces
// are not comparable). A sample of that space with another length is
// FT_E_DB (the matrix is refused, never mixed); a zero vector in a cosine
// space too. The matrix remembers the space for ft_gallery_matrix_refresh.
ft_status ft_gallery_matrix_load(ft_gallery *g, const ft_gallery_space *space,
                                 ft_match_matrix **out, ft_err *err);
// Builds a matrix from arrays (n rows of `dim` floats, a person id per
// row; ids > 0) without a database: for the evaluator and tests.
// sample_ids may be NULL (rows are then numbered 1..n).
ft_status ft_match_matrix_new(const float *desc, size_t dim, ft_metric metric,
                              const int64_t *person_ids, const int64_t *sample_ids, size_t n,
                              ft_match_matrix **out, ft_err *err);
void ft_match_matrix_free(ft_match_matrix *m);
size_t ft_match_matrix_rows(const ft_match_matrix *m);
size_t ft_match_matrix_people(const ft_match_matrix *m);
size_t ft_match_matrix_dim(const ft_match_matrix *m);
ft_metric ft_match_matrix_metric(const ft_match_matrix *m);
const char *ft_match_matrix_kernel(const ft_match_matrix *m); // "avx512", "avx2", "ref"

// Whether the gallery's people/samples changed since `m` was loaded, by
// this connection or any other, in any process: the gallery's generation
// (bumped in the same transaction as every change of samples) against the
// matrix's. Cheap: on SQLite no query at all when nothing was committed
// anywhere (PRAGMA data_version); on PostgreSQL one read of one row.
ft_status ft_gallery_matrix_stale(ft_gallery *g, const ft_match_matrix *m, bool *stale,
                                  ft_err *err);
// Reloads *m (same space) if stale; on failure *m is left as is.
ft_status ft_gallery_matrix_refresh(ft_gallery *g, ft_match_matrix **m, ft_err *err);

typedef enum ft_match_status {
    FT_MATCH_KNOWN = 0,  // best < threshold and margin >= required margin
    FT_MATCH_UNKNOWN,    // best >= threshold, or the gallery is empty
    FT_MATCH_AMBIGUOUS,  // best < threshold but another person is within the margin
} ft_match_status;

typedef struct ft_match_result {
    ft_match_status status;
    int64_t person_id;  // the closest person (also when unknown); 0 if empty gallery
    int64_t sample_id;  // that person's closest sample
    double distance;    // in the matrix's metric; +inf if empty
    int64_t second_person_id; // closest OTHER person; 0 if none
    double second_distance;   // +inf if none
    double margin;            // second_distance - distance; +inf with < 2 people
} ft_match_result;

// 1:N search: per person the minimum distance over their samples; the best
// person, and the margin to the next-best other person. Margin rule: with
// only one enrolled person the margin is +inf, so the margin never rejects
// (there is no one to confuse them with; the threshold still applies).
// The query has `dim` floats, which must be the matrix's length
// (FT_E_INVALID otherwise, or if a value is not finite, or a cosine query
// is zero). Allocates nothing; thread-safe for concurrent calls on one
// matrix. Matrices of 20,000 rows or more are searched through an int8
// index with an exact float re-rank: the same answers, bit for bit, about
// 4-7x sooner (src/gallery/match_i8.h; FT_MATCH_INDEX=off|ROWS overrides).
ft_status ft_match(const ft_match_matrix *m, const float *query, size_t dim, double threshold,
                   double min_margin, ft_match_result *out, ft_err *err);

// D_p of one person for per-person thresholds (ft_gallery_policy's
// person_cap): the smallest distance, in the matrix's metric, between any
// of the person's rows and any row of ANOTHER person; +inf when nobody
// else is enrolled. One 1:N search per row of the person, so it is meant
// for the person a face matched, not for everyone. FT_E_NOT_FOUND when the
// person has no row in the matrix.
ft_status ft_match_person_nearest(const ft_match_matrix *m, int64_t person_id, double *nearest,
                                  ft_err *err);

// ---- Calibration ----

typedef struct ft_calib_opts {
    double t_min, t_max, t_step; // threshold grid, default 0.30..0.80 step 0.01
    double target_far;           // default 0.001 (0.1 %)
    bool confirm;                // store even if it loosens security (see ft_gallery_calibrate)
    const char *actor;           // who stores it, for the audit row (NULL = "unknown")
} ft_calib_opts;

ft_calib_opts ft_calib_opts_default(void);

typedef struct ft_calib_row {
    double threshold;
    double far, frr; // fractions in [0, 1]; NaN if there were no trials of that kind
} ft_calib_row;

typedef struct ft_calib_result {
    size_t n_samples, n_people;
    size_t n_genuine, n_impostor; // trials
    ft_calib_row *rows;           // owned; ft_calib_result_deinit
    size_t n_rows;
    // The largest grid threshold with FAR <= target_far, its FAR and FRR;
    // NaN if no grid threshold qualifies or there are no impostor trials.
    double threshold, far, frr;
} ft_calib_result;

// Leave-one-out calibration over n descriptors with person labels (> 0),
// the same rule ft_match applies. Each sample in turn is the probe and the
// other n-1 samples the gallery:
//  - genuine trial: the probe's distance to the nearest OTHER sample of its
//    own person (one per sample whose person has >= 2 samples);
//  - impostor trials: for every other person, the probe's distance to that
//    person's nearest sample (one per sample and other person).
// At threshold t a genuine trial is falsely rejected if d >= t, an impostor
// trial falsely accepted if d < t. FAR resolution is 1/n_impostor: with few
// people a 0.1 % target is not measurable, and the result says NaN.
// desc: n rows of `dim` floats, compared by `metric`.
ft_status ft_calibrate(const float *desc, size_t dim, ft_metric metric, const int64_t *labels,
                       size_t n, const ft_calib_opts *o, ft_calib_result *out, ft_err *err);
void ft_calib_result_deinit(ft_calib_result *r);

// Calibrates over the gallery's samples of `space`; with `store`, then
// saves it as ft_gallery_calibration_save does (the unsuffixed, resnet128
// keys: for another space calibrate without `store`, then
// ft_gallery_calibration_save_for). On failure nothing is in *out.
ft_status ft_gallery_calibrate(ft_gallery *g, const ft_gallery_space *space,
                               const ft_calib_opts *o, bool store, ft_calib_result *out,
                               ft_err *err);

// Saves a calibration: the threshold setting together with the record of
// the calibration (settings "calibrated_threshold", "calibrated_far",
// "calibrated_target", "calibrated_at" and the FAR table
// "calibration_far") and an audit row ("settings.calibrate", o->actor), in
// one transaction. FT_E_INVALID (nothing stored) if no threshold met the
// target; FT_E_CONFIRM (nothing stored) for a target above
// FT_GALLERY_SAFE_FAR without o->confirm.
ft_status ft_gallery_calibration_save(ft_gallery *g, const ft_calib_result *r,
                                      const ft_calib_opts *o, ft_err *err);
// The same into space sp's keys ("threshold.faceres",
// "calibrated_threshold.faceres", ...; the unsuffixed ones for legacy
// keys); the audit detail names the space. A threshold above
// sp->threshold_max is FT_E_INVALID (nothing stored).
ft_status ft_gallery_calibration_save_for(ft_gallery *g, const ft_policy_space *sp,
                                          const ft_calib_result *r, const ft_calib_opts *o,
                                          ft_err *err);

#endif
