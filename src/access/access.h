// The access decision for one face at a door: the quality gate (face size,
// detector score), then the 1:N match against the policy's threshold and
// margin, then the event that records it. Built on the gallery
// (src/gallery) and the face pipeline's types (face/face.h); the HTTP
// server, the CLI and the camera loop call it.
//
// Rules, in order (the first that applies decides):
//   1. min(box w, h) < policy.min_face_px         -> denied, "face too small"
//   2. box score < policy.min_detector_score      -> denied, "low detector score"
//   3. no one enrolled, or best distance >= threshold -> denied, "unknown"
//   4. next other person's distance - best < margin   -> denied, "ambiguous"
//   5. otherwise                                   -> granted, "match"
// With one person enrolled the margin is +inf, so rule 4 never fires.
//
// Threading: the pure functions are thread-safe; ft_access_check uses the
// caller's ft_gallery (one per thread) and a shared read-only matrix.
#ifndef FT_ACCESS_ACCESS_H
#define FT_ACCESS_ACCESS_H

#include "core/status.h"
#include "face/descriptor.h"
#include "face/face.h"
#include "gallery/gallery.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ft_access_reason {
    FT_REASON_MATCH = 0,
    FT_REASON_UNKNOWN,
    FT_REASON_AMBIGUOUS,
    FT_REASON_FACE_TOO_SMALL,
    FT_REASON_LOW_SCORE,
    FT_REASON_NOT_CONFIRMED, // door tracks: matched someone in fewer than k frames
} ft_access_reason;

// "match", "unknown", "ambiguous", "face too small", "low detector score",
// "not confirmed":
// the text stored in events.reason.
const char *ft_access_reason_str(ft_access_reason r);

// The quality gate alone (rules 1-2), for the door and for enrolment,
// which must refuse faces the door would refuse. FT_OK, or FT_E_QUALITY
// with *reason (may be NULL) and a message giving the measured and
// required values.
ft_status ft_access_quality(const ft_face_box *box, const ft_gallery_policy *p,
                            ft_access_reason *reason, ft_err *err);

typedef struct ft_access_decision {
    ft_decision decision; // FT_DECISION_GRANTED / FT_DECISION_DENIED
    ft_access_reason reason;
    int64_t person_id;    // the granted person; 0 when denied
    char name[FT_GALLERY_NAME_MAX + 1]; // their name ("" when denied); ft_access_check only
    int64_t nearest_person_id; // closest person even when denied (0 if not matched)
    double distance;       // best distance; NaN when the gate stopped it before matching
    double margin;         // +inf with one person; NaN when not matched
    double detector_score;
    int64_t event_id;      // ft_access_check only
} ft_access_decision;

// The decision from a detection and a match result (rules 1-5), applying
// the policy's threshold and margin to the distances (the thresholds given
// to ft_match do not matter). `match` may be NULL only if the face fails
// the quality gate. Pure; fills *out.
void ft_access_decide(const ft_face_box *box, const ft_match_result *match,
                      const ft_gallery_policy *p, ft_access_decision *out);

// The 1:N match of one descriptor and the policy that decides it: *eff is
// `p` with the threshold of the nearest person, min(threshold,
// person_cap * D_p) (ft_match_person_nearest), when the match would be
// known (within threshold and margin) and person_cap > 0 (an ambiguous
// match stays ambiguous; per-person thresholds, access/openset.h;
// docs/ACCURACY.md "Strangers"), else `p` as is. Pass *eff to
// ft_access_decide; mr->status is the verdict under *eff. Every decision
// and identification path (ft_access_check, the door, identify) matches
// through this.
ft_status ft_access_match(const ft_match_matrix *m, const float *desc, size_t dim,
                          const ft_gallery_policy *p, ft_match_result *mr, ft_gallery_policy *eff,
                          ft_err *err);

// Writes the event for a decision: time (0 = now), source (the door's
// name), optional thumbnail bytes (JPEG, made by the caller). Fills
// d->event_id.
ft_status ft_access_record(ft_gallery *g, ft_access_decision *d, const char *source, double time,
                           const uint8_t *thumbnail, size_t thumbnail_len, ft_err *err);

typedef struct ft_access_request {
    ft_face_box box;          // the detection (pixels, score)
    const float *descriptor;  // descriptor_dim floats, in the matrix's space
    size_t descriptor_dim;
    const char *source;       // door / camera name
    double time;              // 0 = now
    const uint8_t *thumbnail; // optional
    size_t thumbnail_len;
} ft_access_request;

// The whole step: quality gate, ft_match against `m` (skipped if the gate
// fails), decision under `p`, the granted person's name, and the event.
// On failure nothing is in *out and the caller must keep the door shut
// (fail closed): in particular a decision that could not be logged
// (FT_E_BUSY, FT_E_DB) is not returned.
ft_status ft_access_check(ft_gallery *g, const ft_match_matrix *m, const ft_gallery_policy *p,
                          const ft_access_request *rq, ft_access_decision *out, ft_err *err);

// ---- Descriptor spaces ----

// The gallery's view of network d's space under alignment a (its samples'
// space string, length and metric).
ft_gallery_space ft_access_space(const ft_descriptor_net *d, ft_align_mode a);

// The gallery's view of network d's policy side: its name, whether its
// settings are the unsuffixed legacy keys, its default threshold and
// margin, its safe maximum and its threshold bound (registry fields).
ft_policy_space ft_access_policy_space(const ft_descriptor_net *d);

// The stored policy for faces described by d (NULL = the default
// network): d's own threshold and margin (its registry defaults while the
// gallery has none stored for it; never another network's), with the
// shared quality gate and person_cap. As ft_gallery_policy_load_for.
ft_status ft_access_policy_load(ft_gallery *g, const ft_descriptor_net *d, ft_gallery_policy *out,
                                ft_err *err);

#endif
