// The fused descriptor (issue 12, step 4): a face described in two spaces,
// resnet128 and faceres, matched by a weighted sum of its two distances,
// each divided by its own network's threshold:
//   fused = w * d_resnet / t_resnet + (1 - w) * d_faceres / t_faceres
// so that 1 is "at both thresholds". A person's distance in a space is the
// minimum over their samples of that space; a person without samples in
// both spaces has no fused distance (add the space: gallery reindex).
// Known iff fused < 1 and the next other person's fused distance is at
// least the fused margin higher, the margin fused as the distances are.
// Which weight is best is not known yet (issue 12: 0.4-0.7 all within
// 0.2 points on the development sets); 0.5 by default.
#ifndef FT_ACCESS_FUSED_H
#define FT_ACCESS_FUSED_H

#include "access/access.h"

#define FT_FUSED_DEFAULT_WEIGHT 0.5

typedef struct ft_fused_result {
    ft_match_status status;
    int64_t person_id;        // closest person by fused distance (0: none)
    double distance;          // fused; +inf when nobody has both spaces
    double d_resnet, d_faceres; // that person's distance in each space
    int64_t second_person_id; // 0 if none
    double second_distance;   // fused; +inf if none
    double margin;            // second - best; +inf with fewer than two people
    double margin_required;   // the fused margin
} ft_fused_result;

// `samples`: the gallery's samples (ft_gallery_samples_list); only those
// of resnet128's space under `align` and of faceres's space count. qr
// (128 floats) and qf (1024 floats): the face in each space.
// pol_resnet, pol_faceres: each network's stored policy
// (ft_access_policy_load), whose thresholds and margins scale the fused
// distance. w in [0, 1]. FT_E_INVALID for a weight outside it.
ft_status ft_access_fused_match(const ft_sample *samples, size_t n, const float *qr,
                                const float *qf, ft_align_mode align,
                                const ft_gallery_policy *pol_resnet,
                                const ft_gallery_policy *pol_faceres, double w,
                                ft_fused_result *out, ft_err *err);

#endif
