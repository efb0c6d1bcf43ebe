// Enrolment samples from photos.
#include "access/enroll.h"

#include "core/sha256.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

ft_status ft_enroll_sample(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                           const uint8_t *src, size_t src_len, const ft_describe_opts *o,
                           const ft_gallery_policy *p, ft_sample *sample, ft_buf *thumb,
                           bool *below_threshold, ft_err *err)
{
    ft_face f;
    bool low = false;
    ft_status st = ft_face_single(m, ctx, im, o, FT_SINGLE_FACE_FLOOR, false, &f, &low, err);
    if (st != FT_OK)
        return st;
    // The door refuses faces under the gate; enrolling one would make a
    // sample the door can never use, so refuse it here too. A face found
    // only below the detector threshold is judged by the same gate.
    st = ft_access_quality(&f.box, p, NULL, err);
    if (st != FT_OK)
        return st;
    memset(sample, 0, sizeof *sample);
    memcpy(sample->descriptor, f.descriptor, sizeof f.descriptor);
    snprintf(sample->model, sizeof sample->model, "%s", ft_descriptor_space(o->align));
    snprintf(sample->alignment, sizeof sample->alignment, "%s", ft_align_name(o->align));
    sample->detector_score = f.box.score;
    sample->face_w = (int32_t)lround(f.box.w);
    sample->face_h = (int32_t)lround(f.box.h);
    if (src && src_len)
        ft_sha256_hex(src, src_len, sample->source_sha256);
    if (ft_face_thumbnail(im, &f.box, FT_THUMB_PX, thumb, NULL) == FT_OK) {
        sample->thumbnail = thumb->data;
        sample->thumbnail_len = thumb->len;
    }
    if (below_threshold)
        *below_threshold = low;
    return FT_OK;
}
