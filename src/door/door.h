// The door pipeline: the one path from a frame to a decision, for every
// caller. frame -> detect -> landmarks -> align -> describe -> match ->
// decide -> track -> record -> deliver. The CLI (`access`, `watch`), the
// HTTP endpoints that decide (/api/v1/access, /api/prediction, the page's
// Live tab) and the camera watchers are thin adapters around it: none of
// them re-implements a step or a rule. Sits above access/, gallery/,
// face/ and deliver/; below http/ and cli/.
//
// ---- The rules (the only place they are written down) ----
//
// Per face and frame (access/access.h, ft_access_decide), first that applies:
//   1. min(box w, h) < policy.min_face_px             -> "face too small"
//   2. detector score < policy.min_detector_score     -> "low detector score"
//   3. nobody enrolled, or best distance >= threshold -> "unknown"
//   4. next other person - best distance < margin     -> "ambiguous"
//   5. otherwise the frame matches the nearest person.
// A box that does not overlap the image is dropped (it has no crop).
//
// Faces are tied across frames into tracks (track.c): a detection joins
// the live track whose box, predicted at constant velocity, overlaps it
// most (IoU >= iou_min), or, when the boxes do not overlap enough, whose
// last descriptor is within assoc_distance and whose centre is within 1.5
// box sizes; a detection whose descriptor is further than assoc_distance
// from a track's never joins it, so two different faces are never one
// track. Unmatched detections start tracks.
//
// Per track, one decision, one event:
//   - granted as soon as at least k of its last n described frames match
//     the same person P (rules 1-5 each) AND the track's fused descriptor
//     (the mean of its frames' unit descriptors, scaled back to their mean
//     length) also matches P under rules 3-4, AND P is still enrolled. The
//     event is recorded then, once; later frames of the track change
//     nothing.
//   - denied when the track ends undecided (not seen for gap_s, the source
//     ended or was removed), with the reason: "face too small" / "low
//     detector score" when no frame passed the gate (the most frequent of
//     the two), else the fused descriptor's "unknown" or "ambiguous" (with
//     the two people), or "not confirmed" when it matches someone but
//     fewer than k frames did.
// A person who leaves and comes back after gap_s is a new track, so a new
// passage and a new event. That gap is the only cooldown. Once a track is
// decided its face is described only every redescribe_every-th detected
// frame (saving the descriptor networks while someone stands in view).
// Still photos (mode FT_DOOR_STILL: the CLI's `access`, /api/v1/access
// without stream=1) are one frame each: every face is its own track, k is
// taken as 1, and every track ends with the frame: one event per face.
//
// Events are stored (with one outbox row per delivery sink) in one
// transaction before anything is returned: a decision that could not be
// stored is not given (fail closed), and the track stays undecided.
//
// Threading: an ft_door is shared by every thread (models and options are
// read-only; the match matrix is guarded inside). Each thread brings its
// own ft_door_worker (inference context + gallery connection). An
// ft_door_source is used by one thread at a time (callers that share one,
// like HTTP stream sources, lock around ft_door_frame).
#ifndef FT_DOOR_DOOR_H
#define FT_DOOR_DOOR_H

#include "access/access.h"
#include "core/status.h"
#include "face/face.h"
#include "gallery/gallery.h"
#include "io/image.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ft_deliver;

#define FT_DOOR_MAX_FACES 64  // faces handled per frame (the largest kept)
#define FT_DOOR_MAX_TRACKS 64 // live tracks per source
#define FT_DOOR_MAX_N 32      // the largest n of "k of the last n"

typedef enum ft_door_mode {
    FT_DOOR_STILL = 0, // unrelated photos: each face of each frame is one passage
    FT_DOOR_STREAM,    // frames of one camera: faces tracked, k of n
} ft_door_mode;

typedef struct ft_door_opts {
    ft_describe_opts describe; // detector, landmarks net, alignment
    // The descriptor network (face/descriptor.h); NULL = the default
    // (resnet128). A network that needs no landmarks (faceres) makes the
    // door skip the 68-point net. The door applies the gallery's stored
    // threshold and margin for this network (ft_access_policy_load).
    const ft_descriptor_net *descriptor;
    const struct ft_faceres *faceres; // faceres's weights (borrowed), for that network
    // Granted when k of the last n described frames match; 3 of 5 (chosen by
    // measurement with the default detector, YuNet: 2 of 3 let 1 of 83
    // stranger passages through, 3 of 5 none, at the same 71 of 88 genuine
    // ones; docs/BENCHMARKS.md, "The door: k of n").
    int k, n;
    double gap_s;              // a track unseen this long ends; 1.0 s
    double iou_min;            // association by overlap; 0.3
    double assoc_distance;     // descriptor distance that never joins a track; 0 = the
                               // network's track_gate (resnet128: 0.6)
    int detect_every;          // stream: detect on every k-th frame, predict between; 1
    // A decided track's face (IoU >= 0.5 with its predicted box) is
    // described again only every N-th detected frame (in between it follows
    // by overlap alone); a different face taking its place is told apart
    // within N frames. 5; 1 = describe every face every time.
    int redescribe_every;
    int32_t thumb_px;          // event thumbnails' longer side; 160
    bool record;               // store events (and deliver them); true. false: decide only
} ft_door_opts;

ft_door_opts ft_door_opts_default(void);
// FT_E_INVALID with the reason for options out of range (k < 1, k > n,
// n > FT_DOOR_MAX_N, gap_s <= 0, ...).
ft_status ft_door_opts_check(const ft_door_opts *o, ft_err *err);

typedef struct ft_door ft_door;

// `models` must hold the detector, landmark and recognition nets the
// options need; it and `deliver` (may be NULL: events are stored, not
// delivered) are borrowed and must outlive the door.
ft_status ft_door_new(const ft_face_models *models, const ft_door_opts *o,
                      struct ft_deliver *deliver, ft_door **out, ft_err *err);
void ft_door_free(ft_door *d); // NULL is a no-op
const ft_door_opts *ft_door_opts_get(const ft_door *d);

struct ft_fmodel;

// What one thread brings: borrowed, owned by the caller.
typedef struct ft_door_worker {
    ft_nn_ctx *nn;
    ft_gallery *g;
    // A single-face model trained with `facetracker train` (not
    // thread-safe: one per thread), or NULL. When set, it finds the face
    // instead of the detector: at most one box, when its face score is over
    // the detector's min_score; no keypoints. Landmarks and the descriptor
    // still come from the pretrained networks, on that box.
    struct ft_fmodel *fm;
} ft_door_worker;

typedef struct ft_door_source ft_door_source;

// A source's tracking state. `name` (1..FT_GALLERY_NAME_MAX bytes) is the
// door or camera, as events record it.
ft_status ft_door_source_new(const char *name, ft_door_mode mode, ft_door_source **out,
                             ft_err *err);
void ft_door_source_free(ft_door_source *s); // NULL is a no-op
const char *ft_door_source_name(const ft_door_source *s);
// Whether the source's decisions are stored and delivered (default true;
// the door's `record` option must be on too). Off: decided, not logged
// (the prototype's /api/prediction).
void ft_door_source_set_record(ft_door_source *s, bool record);
ft_door_mode ft_door_source_mode(const ft_door_source *s);

typedef enum ft_track_state {
    FT_TRACK_PENDING = 0, // not decided yet
    FT_TRACK_GRANTED,     // decided: granted (event recorded)
    FT_TRACK_DENIED,      // decided: denied (the track ended)
} ft_track_state;

const char *ft_track_state_str(ft_track_state s); // "pending", "granted", "denied"

// A face in this frame, as the tracker sees it.
typedef struct ft_door_face {
    ft_face_box box;
    int64_t track_id;
    bool described;           // detected and described in this frame (false: predicted box)
    ft_access_decision frame; // this frame's own decision (when described)
    ft_track_state state;     // the track's decision so far
    int64_t person_id;        // granted tracks: the person
    char name[FT_GALLERY_NAME_MAX + 1];
    int32_t frames;           // described frames of the track so far
    int32_t matches;          // of the last n, those that matched the track's leading person
} ft_door_face;

typedef struct ft_door_result {
    int32_t width, height;
    bool detected; // the detector ran on this frame (see detect_every)
    ft_door_face faces[FT_DOOR_MAX_FACES];
    size_t n_faces;
    // Events decided (and, with record, stored) by this call, in order.
    // Thumbnails are not returned (thumbnail NULL).
    ft_event events[FT_DOOR_MAX_TRACKS + FT_DOOR_MAX_FACES];
    size_t n_events;
    double detect_ms, describe_ms, total_ms;
    // Of describe_ms: the faces described, and the landmark and descriptor
    // networks' share.
    size_t n_described;
    double landmarks_ms, descriptor_ms;
} ft_door_result;

// Runs one frame of source `s` taken at `t` (Unix seconds; monotonic per
// source) through the whole pipeline. `res` is written in full. Errors:
// inference and gallery errors as they come; FT_E_BUSY / FT_E_DB / FT_E_IO
// when a decided event could not be stored (then it is not in `res` and
// the track stays undecided: fail closed). A still-mode source ends every
// track within the call.
ft_status ft_door_frame(ft_door *d, const ft_door_worker *w, ft_door_source *s,
                        const ft_image *im, double t, ft_door_result *res, ft_err *err);

// A detection made elsewhere: a box and, when described, its descriptor
// (the door's network's length, e.g. 128 floats for resnet128, in its
// space and alignment).
typedef struct ft_door_face_in {
    ft_face_box box;
    const float *descriptor; // NULL = not described
} ft_door_face_in;

// ft_door_frame for faces detected and described by the caller (another
// detector, a trained single-face model, or an evaluation that describes
// each frame once and replays it under several door settings). `in` NULL
// means the detector did not run on this frame (the tracks are predicted);
// `im` (may be NULL: no thumbnails) is the frame, width x height its size.
ft_status ft_door_frame_faces(ft_door *d, const ft_door_worker *w, ft_door_source *s,
                              const ft_image *im, int32_t width, int32_t height,
                              const ft_door_face_in *in, size_t n, double t, ft_door_result *res,
                              ft_err *err);

// Ends every live track of `s` at time `t` (end of a file, a camera
// removed, shutdown): undecided ones are denied, recorded and returned in
// res->events (res->faces is empty).
ft_status ft_door_flush(ft_door *d, const ft_door_worker *w, ft_door_source *s, double t,
                        ft_door_result *res, ft_err *err);

// Counters of a source, for /metrics and the page.
typedef struct ft_door_source_stats {
    int64_t frames, detected_frames, tracks, granted, denied, live_tracks;
} ft_door_source_stats;
void ft_door_source_stats_get(const ft_door_source *s, ft_door_source_stats *out);

// The match matrix the door uses (reloaded when the gallery changed, as
// seen through `g`). For callers that match outside a decision (identify,
// verify). Fills *out under the door's lock; the caller must then call
// ft_door_matrix_release.
ft_status ft_door_matrix_acquire(ft_door *d, ft_gallery *g, const ft_match_matrix **out,
                                 ft_err *err);
void ft_door_matrix_release(ft_door *d);

// The delivery the door was made with (NULL if none), borrowed.
struct ft_deliver *ft_door_deliver(const ft_door *d);

// Draws a result on `im`: a box per face (green granted, red denied,
// amber pending) labelled with the track id and, when granted, the name.
void ft_door_draw(ft_image *im, const ft_door_result *res);

// ---- Watchers: a frame source run through the door on a thread ----
//
// The one loop behind `facetracker watch` and the server's cameras: open
// the source (src/source), take frames until it ends, is stopped or hits
// a limit, run each through ft_door_frame on a stream source of the same
// name, report events and frames through callbacks, and flush the tracks
// at the end. A source that fails at open fails the watcher; a live one
// that is down keeps reconnecting (source.h).

struct ft_source_frame;

typedef struct ft_watcher_opts {
    const char *db_path;   // the gallery (each watcher opens its own connection)
    int threads;           // inference threads; default 1
    int64_t max_frames;    // stop after this many frames; 0 = no limit
    double duration_s;     // stop after this long; 0 = no limit
    bool realtime;         // files at their own frame rate
    // Keep the newest annotated frame as a JPEG (ft_watcher_snapshot), at
    // most this many times a second (0 = never).
    double snapshot_fps;
    int32_t snapshot_max_side; // scale snapshots down to this; default 640
    const char *trained_model; // MODEL.h5 finding the face (ft_door_worker.fm), or NULL
    // Called on the watcher's thread: each event as it is decided, and each
    // frame after it went through the door (may be NULL).
    void (*on_event)(void *arg, const char *source, const ft_event *ev);
    void (*on_frame)(void *arg, const char *source, const struct ft_source_frame *f, double t,
                     const ft_door_result *res);
    void *arg;
} ft_watcher_opts;

ft_watcher_opts ft_watcher_opts_default(void);

typedef struct ft_watcher ft_watcher;

// Opens `url` (source.h) and starts the thread. `name` as for sources.
ft_status ft_watcher_start(ft_door *d, const char *name, const char *url,
                           const ft_watcher_opts *o, ft_watcher **out, ft_err *err);

typedef struct ft_watcher_health {
    char name[FT_GALLERY_NAME_MAX + 1];
    char url[512];      // without credentials
    bool running;       // the thread is still taking frames
    int source_state;   // ft_source_state
    int source_kind;    // ft_source_kind
    int64_t frames_decoded, frames_dropped, reconnects;
    double fps;         // decoded
    double processed_fps; // through the door, over the last seconds
    ft_door_source_stats door;
    char last_error[256];
} ft_watcher_health;

void ft_watcher_health_get(ft_watcher *w, ft_watcher_health *out);
// The newest annotated JPEG (copied into `out`) and its sequence number;
// FT_E_NOT_FOUND before the first one. With `after` > 0, waits up to
// timeout_s for a snapshot newer than `after` (FT_E_BUSY if none came).
ft_status ft_watcher_snapshot(ft_watcher *w, uint64_t after, double timeout_s, ft_buf *out,
                              uint64_t *seq, ft_err *err);
// Waits for the thread to end by itself (files); returns its status.
ft_status ft_watcher_wait(ft_watcher *w, ft_err *err);
// Stops (if running), flushes the tracks (undecided ones are denied and
// recorded), joins and frees. NULL is a no-op.
void ft_watcher_stop(ft_watcher *w);

#endif
