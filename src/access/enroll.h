// Turning a photo into an enrolment sample: the one-face rule, the same
// quality gate the door applies, the descriptor, a thumbnail and the
// photo's fingerprint. The CLI and the HTTP server both enrol through it.
#ifndef FT_ACCESS_ENROLL_H
#define FT_ACCESS_ENROLL_H

#include "access/access.h"
#include "core/buf.h"
#include "face/face.h"
#include "gallery/gallery.h"

// Fills *sample (descriptor, model, alignment, detector score, face size,
// source SHA-256 of `src`/`src_len` if given) and the thumbnail JPEG in
// `thumb` (sample->thumbnail points into it: keep `thumb` alive until the
// sample is stored). Errors: FT_E_NO_FACE, FT_E_MANY_FACES, FT_E_QUALITY
// (with the reason), decode/inference errors. *below_threshold tells that
// the face was the best candidate under the detector threshold.
ft_status ft_enroll_sample(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                           const uint8_t *src, size_t src_len, const ft_describe_opts *o,
                           const ft_gallery_policy *p, ft_sample *sample, ft_buf *thumb,
                           bool *below_threshold, ft_err *err);

#endif
