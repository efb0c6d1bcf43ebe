// For per-person thresholds (access/openset.h): how close each enrolled
// person comes to everyone else in a match matrix. Implemented in
// match.c beside ft_match_person_nearest (gallery.h), whose searches it
// repeats for every person; a header of its own so that gallery.h stays the matching
// and storage contract.
#ifndef FT_GALLERY_PERSON_NEAREST_H
#define FT_GALLERY_PERSON_NEAREST_H

#include "gallery/gallery.h"

// One entry per person of `m`, in row order: the person's id and D_p,
// the smallest distance (in the matrix's metric) between any of p's rows
// and any row of another person (+inf when p is the only person). Both
// arrays are ft_malloc'd (free with ft_free); nothing is written on
// failure. One 1:N search per row (ft_match): for evaluations and gallery
// load, not per face. FT_E_NOMEM, or ft_match's errors.
ft_status ft_match_matrix_person_nearest(const ft_match_matrix *m, int64_t **person_ids,
                                         double **nearest, size_t *n_people, ft_err *err);

#endif
