// Open-set decisions that keep strangers out (issue 12, item 5): a face
// is granted only when every configured descriptor space names the SAME
// person within that space's threshold and margin. Measured on the
// development sets' open-set protocol (docs/ACCURACY.md, "Strangers"):
// with the shipped thresholds, one gallery over all sets, face-api's
// ResNet alone let 3 of 61 strangers in, faceres alone 1, both spaces
// agreeing 0, at 97.4 % open-set identification.
//
// And the calibration that goes with it: a space's threshold is the one
// with the best pair accuracy over labelled pairs (all development sets
// for the shipped defaults), the middle of the best plateau.
#ifndef FT_ACCESS_OPENSET_H
#define FT_ACCESS_OPENSET_H

#include "gallery/gallery.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// One space's rule: accept its nearest person when distance < threshold
// and (next other person's distance - distance) >= margin.
typedef struct ft_openset_rule {
    double threshold;
    double margin;
} ft_openset_rule;

// The shipped rule of a descriptor space by name ("resnet128", "faceres"),
// chosen on all development sets (docs/ACCURACY.md): resnet128 0.51 /
// 0.05, faceres 0.37 / 0.04. false for an unknown name (*out untouched).
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
// Unknown beats ambiguous beats disagree: the first refusing space in
// that order of severity is reported. n_spaces >= 1. Pure.
void ft_openset_decide(const ft_match_result *per_space, const ft_openset_rule *rules,
                       size_t n_spaces, ft_openset_result *out);

// Calibration: the threshold with the best accuracy over n labelled pairs
// (distance d[i], same[i] true for the same person; accept when d < t).
// Candidate thresholds lie between consecutive sorted distances; the
// answer is the middle of the first run of candidates reaching the best
// accuracy. NaN distances are skipped (counted as errors in *accuracy).
// FT_E_INVALID when no pair has a finite distance, FT_E_NOMEM.
ft_status ft_openset_pair_threshold(const double *d, const bool *same, size_t n,
                                    double *threshold, double *accuracy, ft_err *err);

#endif
