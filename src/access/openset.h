// Open-set decisions that keep strangers out (issue 12, item 5). Two
// measured ideas, usable together:
//  - per-person thresholds: person p is accepted below
//    t_p = min(t, alpha * D_p), where D_p is the distance from p's samples
//    to the nearest sample of any OTHER enrolled person: a person with a
//    look-alike in the gallery gets a tighter threshold, so a stranger who
//    resembles both (Yale 04/06/14) is not let in;
//  - agreement of spaces: with several descriptor spaces, every space must
//    name the SAME person within its (per-person) threshold and margin.
// Measured on the development sets' open-set protocol (docs/ACCURACY.md,
// "Strangers"): faceres with per-person thresholds (alpha 0.8) accepted 0
// of 61 strangers with one gallery over all sets (97.4 % open-set
// identification) and 0 of 44 with each set as its own site at thresholds
// chosen on the other sets (96.5 %); without them 1 of 61 and 6 of 44.
//
// And the calibration that goes with it: a space's threshold is the one
// with the best pair accuracy over labelled pairs (all development sets
// for the shipped defaults), the middle of the best plateau.
//
// How the access decision uses it, per face (one space; several spaces
// the same way, one entry per space):
//   at gallery load:  ft_openset_person_thresholds_matrix(matrix,
//                     rule.threshold, rule.alpha) -> table (rebuild
//                     whenever the matrix is reloaded);
//   per face:         ft_match(...) -> r; tp = ft_openset_person_threshold(
//                     table, n, r.person_id, rule.threshold);
//                     ft_openset_decide(&r, &rule, &tp, 1, &out);
//                     granted iff out.status == FT_OPENSET_GRANTED.
#ifndef FT_ACCESS_OPENSET_H
#define FT_ACCESS_OPENSET_H

#include "gallery/gallery.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// One space's rule: accept its nearest person when distance < threshold
// and (next other person's distance - distance) >= margin.
// alpha: the per-person cap (t_p = min(threshold, alpha * D_p)); 0 = none.
typedef struct ft_openset_rule {
    double threshold;
    double margin;
    double alpha;
} ft_openset_rule;

// The shipped rule of a descriptor space by name ("resnet128", "faceres"),
// chosen on all development sets (docs/ACCURACY.md): resnet128 0.51 /
// 0.05 / 0.8, faceres 0.37 / 0.04 / 0.8. false for an unknown name (*out
// untouched).
bool ft_openset_rule_default(const char *space, ft_openset_rule *out);

typedef enum ft_openset_status {
    FT_OPENSET_GRANTED = 0, // every space: same person, within threshold and margin
    FT_OPENSET_UNKNOWN,     // some space: nearest at or beyond its threshold (or empty)
    FT_OPENSET_AMBIGUOUS,   // some space: within threshold but margin too small
    FT_OPENSET_DISAGREE,    // every space accepts, but not the same person
} ft_openset_status;

const char *ft_openset_status_str(ft_openset_status s); // "granted", "unknown", ...

typedef struct ft_openset_result {
    ft_openset_status status;
    int64_t person_id; // the agreed person when granted, else space 0's nearest (0 if none)
    size_t space;      // the first space that refused (UNKNOWN/AMBIGUOUS); 0 otherwise
} ft_openset_result;

// The decision from one ft_match result per space (ft_match's own
// threshold/margin do not matter: the distances and persons are used).
// person_thr (may be NULL): per space, the threshold of that space's
// nearest person (ft_openset_person_threshold); NULL or a NaN entry uses
// the rule's threshold. Unknown beats ambiguous beats disagree: the first
// refusing space in that order of severity is reported. n_spaces >= 1.
// Pure.
void ft_openset_decide(const ft_match_result *per_space, const ft_openset_rule *rules,
                       const double *person_thr, size_t n_spaces, ft_openset_result *out);

// One person's threshold in one space.
typedef struct ft_openset_person {
    int64_t person_id;
    double threshold; // min(threshold, alpha * D_p); threshold when alone or alpha <= 0
    double nearest;   // D_p: distance to the nearest other person's sample (+inf if none)
} ft_openset_person;

// Per-person thresholds over n enrolled descriptors (rows of `dim`
// floats, person ids > 0, rows of one person need not be contiguous),
// compared by `metric` (cosine: 1 - cos, on the raw rows). One entry per
// person, in order of first appearance; *out is freed with ft_free.
// O(n^2 dim): computed when the gallery is loaded, not per face.
// FT_E_INVALID for dim 0, a person id <= 0, a non-finite value or a zero
// row in a cosine space; FT_E_NOMEM.
ft_status ft_openset_person_thresholds(const float *desc, size_t dim, ft_metric metric,
                                       const int64_t *person_ids, size_t n, double threshold,
                                       double alpha, ft_openset_person **out, size_t *n_people,
                                       ft_err *err);
// The same from a loaded match matrix (its space's metric, its SIMD
// distance kernel), entries in the matrix's person order. This is the one
// the access decision uses: call it whenever the matrix is (re)loaded.
// FT_E_NOMEM.
ft_status ft_openset_person_thresholds_matrix(const ft_match_matrix *m, double threshold,
                                              double alpha, ft_openset_person **out,
                                              size_t *n_people, ft_err *err);
// The threshold of `person` in the table, or `fallback` if absent.
double ft_openset_person_threshold(const ft_openset_person *t, size_t n, int64_t person,
                                   double fallback);

// Calibration: the threshold with the best accuracy over n labelled pairs
// (distance d[i], same[i] true for the same person; accept when d < t).
// Candidate thresholds lie between consecutive sorted distances; the
// answer is the middle of the first run of candidates reaching the best
// accuracy. NaN distances are skipped (counted as errors in *accuracy).
// FT_E_INVALID when no pair has a finite distance, FT_E_NOMEM.
ft_status ft_openset_pair_threshold(const double *d, const bool *same, size_t n,
                                    double *threshold, double *accuracy, ft_err *err);

#endif
