// The descriptor from a detector's five keypoints (YuNet's): the similarity
// alignment of recognition.c, fitted to the keypoints instead of points
// derived from the 68 landmarks, so the landmark net is not needed.
#include "face/face_internal.h"

// The similarity warp (recognition.c) fits five points taken from the 68
// landmarks: the means of points 36-41 and 42-47 (the eyes, image left
// first), point 30 (nose tip), points 48 and 54 (the mouth corners, image
// left first). YuNet's keypoints are the same five, the person's right
// first, which is the image's left: so a landmark array carrying them at
// those indices makes ft_descriptor fit exactly these points (a mean of six
// equal values is that value up to a rounding of the last bit).
ft_status ft_descriptor_kps(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                            const ft_face_box *box, const ft_face_kps *kps,
                            float out[FT_DESCRIPTOR_DIM], ft_err *err)
{
    if (!kps || kps->n != FT_KEYPOINTS)
        return ft_err_set(err, FT_E_INVALID, "five keypoints are needed for this alignment");
    ft_point lm[FT_LANDMARKS] = {{0, 0}};
    for (int i = 36; i < 42; i++)
        lm[i] = kps->p[0];
    for (int i = 42; i < 48; i++)
        lm[i] = kps->p[1];
    lm[30] = kps->p[2];
    lm[48] = kps->p[3];
    lm[54] = kps->p[4];
    return ft_descriptor(m, ctx, im, box, lm, FT_ALIGN_SIMILARITY, out, err);
}
