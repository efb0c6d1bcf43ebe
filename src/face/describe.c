// The whole pipeline: detection, landmarks, descriptors; and the
// one-face-per-photo rule of enrolment and verification.
#include "face/face_internal.h"

#include "core/clock.h"
#include "core/mem.h"

#include <math.h>
#include <string.h>

ft_align_mode ft_align_default(void)
{
    // Measured on every recognition set (docs/ACCURACY.md): see there for
    // the numbers behind this choice.
    return FT_ALIGN_SIMILARITY;
}

const char *ft_align_name(ft_align_mode a)
{
    return a == FT_ALIGN_SIMILARITY ? "similarity" : "faceapi";
}

const char *ft_descriptor_space(ft_align_mode a)
{
    return a == FT_ALIGN_SIMILARITY ? "face_recognition_model@face-api-1.7.15/similarity"
                                    : "face_recognition_model@face-api-1.7.15/faceapi";
}

bool ft_align_parse(const char *s, ft_align_mode *out)
{
    if (strcmp(s, "faceapi") == 0)
        *out = FT_ALIGN_FACEAPI;
    else if (strcmp(s, "similarity") == 0)
        *out = FT_ALIGN_SIMILARITY;
    else
        return false;
    return true;
}

ft_describe_opts ft_describe_opts_default(void)
{
    return (ft_describe_opts){ft_detect_opts_default(), true, false, true, ft_align_default(), false};
}

static ft_status describe_one(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                              const ft_describe_opts *o, ft_face *f, ft_describe_timing *t,
                              ft_err *err)
{
    f->has_landmarks = f->has_descriptor = false;
    if (!o->landmarks && !o->descriptors)
        return FT_OK;
    if (o->align_kps && o->descriptors && o->align == FT_ALIGN_SIMILARITY &&
        f->kps.n == FT_KEYPOINTS) {
        // The chip from the detector's five keypoints: no landmark net.
        double t1 = ft_now_ms();
        ft_status st = ft_descriptor_kps(m, ctx, im, &f->box, &f->kps, f->descriptor, err);
        if (t)
            t->descriptor_ms += ft_now_ms() - t1;
        if (st == FT_OK)
            f->has_descriptor = true;
        return st;
    }
    double t0 = ft_now_ms();
    ft_face_box lb = ft_landmark_box(f->detector, &f->box);
    ft_status st = ft_landmarks(m, ctx, im, &lb, o->tiny_landmarks, f->landmarks, err);
    double t1 = ft_now_ms();
    if (t)
        t->landmarks_ms += t1 - t0;
    if (st != FT_OK)
        return st;
    f->has_landmarks = true;
    if (!o->descriptors)
        return FT_OK;
    st = ft_descriptor(m, ctx, im, &f->box, f->landmarks, o->align, f->descriptor, err);
    if (t)
        t->descriptor_ms += ft_now_ms() - t1;
    if (st == FT_OK)
        f->has_descriptor = true;
    return st;
}

ft_status ft_faces_describe(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                            const ft_describe_opts *o, ft_face *out, size_t cap, size_t *n_out,
                            ft_describe_timing *timing, ft_err *err)
{
    ft_describe_opts def = ft_describe_opts_default();
    if (!o)
        o = &def;
    if (timing)
        *timing = (ft_describe_timing){0, 0, 0};
    size_t bcap = cap ? cap : 1;
    ft_face_box *boxes = ft_malloc(sizeof *boxes * bcap);
    ft_face_kps *kps = ft_malloc(sizeof *kps * bcap);
    if (!boxes || !kps) {
        ft_free(boxes);
        ft_free(kps);
        return ft_err_set(err, FT_E_NOMEM, "out of memory");
    }
    size_t n = 0;
    double t0 = ft_now_ms();
    ft_status st = ft_detect_kps(m, ctx, im, &o->detect, boxes, kps, bcap, &n, NULL, err);
    if (timing)
        timing->detect_ms = ft_now_ms() - t0;
    if (n > cap)
        n = cap;
    size_t k = 0;
    for (size_t i = 0; i < n && st == FT_OK; i++) {
        memset(&out[k], 0, sizeof out[k]);
        out[k].box = boxes[i];
        out[k].kps = kps[i];
        out[k].detector = o->detect.kind;
        st = describe_one(m, ctx, im, o, &out[k], timing, err);
        if (st == FT_E_INVALID) {
            // A box that does not overlap the image has no crop (face-api
            // drops such boxes too).
            st = FT_OK;
            ft_err_clear(err);
            continue;
        }
        k++;
    }
    ft_free(boxes);
    ft_free(kps);
    if (st == FT_OK)
        *n_out = k;
    return st;
}

// ft_face_single on a copy of `im` with a black border of its own size on
// each side; boxes and landmarks are mapped back to `im`'s coordinates, the
// descriptor is the one computed on the bordered copy.
static ft_status single_padded(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                               const ft_describe_opts *o, double floor, ft_face *out,
                               bool *below_threshold, ft_err *err)
{
    int32_t px = im->w, py = im->h;
    ft_image big;
    ft_status st = ft_image_new(im->w + 2 * px, im->h + 2 * py, &big);
    if (st != FT_OK)
        return ft_err_set(err, st, "out of memory");
    memset(big.rgb, 0, (size_t)big.w * big.h * 3);
    for (int32_t y = 0; y < im->h; y++)
        memcpy(big.rgb + ((size_t)(y + py) * big.w + px) * 3, im->rgb + (size_t)y * im->w * 3,
               (size_t)im->w * 3);
    ft_describe_opts lo = *o;
    lo.detect.min_score = floor < o->detect.min_score ? floor : o->detect.min_score;
    ft_face faces[8];
    size_t n = 0;
    st = ft_faces_describe(m, ctx, &big, &lo, faces, 8, &n, NULL, err);
    if (st == FT_OK && n == 0)
        st = ft_err_set(err, FT_E_NO_FACE, "no face found (not even scoring above %.2f)", floor);
    if (st == FT_OK) {
        // The best candidate; recompute its landmarks and descriptor with
        // the caller's options (lo only changed the threshold).
        *out = faces[0];
        st = describe_one(m, ctx, &big, o, out, NULL, err);
    }
    if (st == FT_OK) {
        *below_threshold = !(out->box.score > o->detect.min_score);
        out->box.x -= px;
        out->box.y -= py;
        for (int i = 0; i < FT_LANDMARKS; i++) {
            out->landmarks[i].x -= px;
            out->landmarks[i].y -= py;
        }
        for (int i = 0; i < out->kps.n; i++) {
            out->kps.p[i].x -= px;
            out->kps.p[i].y -= py;
        }
    }
    ft_image_deinit(&big);
    return st;
}

double ft_face_subject_value(const ft_face_box *b, int32_t w, int32_t h)
{
    double half_diag = hypot(w / 2.0, h / 2.0);
    double dx = b->x + b->w / 2 - w / 2.0, dy = b->y + b->h / 2 - h / 2.0;
    double c = half_diag > 0 ? 1 - hypot(dx, dy) / half_diag : 1;
    if (c < 0)
        c = 0; // a box centred outside the photo (padded detection)
    double a = b->w > 0 && b->h > 0 ? b->w * b->h : 0;
    return a * c;
}

size_t ft_face_pick_subject(const ft_face_box *boxes, size_t n, int32_t w, int32_t h)
{
    // Score first: a candidate scoring under FT_SUBJECT_SCORE_RATIO of the
    // best one does not compete at all, so a 0.20 box never beats a 0.99
    // face however big or central it is. Among the rest, the score times
    // the box area times closeness to the centre wins: a portrait's
    // subject that the detector scores 0.26 still beats a 0.83 bystander
    // at the edge with a quarter of its area (LFW Ariel_Sharon_0004), and
    // of two similar faces the bigger, more central one wins. Ties: the
    // earlier box.
    size_t pick = 0;
    double best_score = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (boxes[i].score > best_score)
            best_score = boxes[i].score;
    double best = -1;
    for (size_t i = 0; i < n; i++) {
        if (!(boxes[i].score >= FT_SUBJECT_SCORE_RATIO * best_score))
            continue;
        double v = boxes[i].score * ft_face_subject_value(&boxes[i], w, h);
        if (v > best) {
            best = v;
            pick = i;
        }
    }
    return pick;
}

ft_status ft_face_single(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                         const ft_describe_opts *o, double floor, bool central, ft_face *out,
                         bool *below_threshold, ft_err *err)
{
    ft_describe_opts lo = *o;
    double thr = o->detect.min_score;
    if (floor < thr)
        lo.detect.min_score = floor;
    lo.landmarks = lo.descriptors = false;
    ft_face faces[32];
    size_t n = 0;
    ft_status st = ft_faces_describe(m, ctx, im, &lo, faces, 32, &n, NULL, err);
    if (st != FT_OK)
        return st;
    if (n == 0) {
        // Second chance with another detector, when it is loaded: YuNet (the
        // default) and the tiny detector fall back to the SSD, the SSD to the
        // tiny detector; each misses some faces the other finds.
        ft_detector_kind other = o->detect.kind == FT_DETECTOR_SSD ? FT_DETECTOR_TINY
                                                                   : FT_DETECTOR_SSD;
        if (ft_face_models_has(m, ft_detector_name(other))) {
            lo.detect = ft_detect_opts_default();
            lo.detect.kind = other;
            lo.detect.min_score = floor;
            st = ft_faces_describe(m, ctx, im, &lo, faces, 32, &n, NULL, err);
            if (st != FT_OK)
                return st;
        }
    }
    if (n == 0 && im->w <= 2048 && im->h <= 2048) {
        // Third chance, for photos that are tight face crops (the detectors
        // were trained on scenes and miss a face that fills the frame):
        // detect on a copy with a black border as wide as the photo on each
        // side, then map the result back.
        return single_padded(m, ctx, im, o, floor, out, below_threshold, err);
    }
    size_t above = 0;
    for (size_t i = 0; i < n; i++)
        above += faces[i].box.score > thr;
    if (above > 1 && !central)
        return ft_err_set(err, FT_E_MANY_FACES, "%zu faces found (score > %.2f); one is expected",
                          above, thr);
    if (n == 0)
        return ft_err_set(err, FT_E_NO_FACE, "no face found (not even scoring above %.2f)", floor);
    // Detections come best first: faces[0] is the one face above the
    // threshold, or the best candidate above the floor. In central mode the
    // photo's subject is chosen by ft_face_pick_subject (score first, then
    // size and centrality).
    size_t pick = 0;
    if (central) {
        ft_face_box boxes[32];
        for (size_t i = 0; i < n; i++)
            boxes[i] = faces[i].box;
        pick = ft_face_pick_subject(boxes, n, im->w, im->h);
    }
    *out = faces[pick];
    *below_threshold = !(out->box.score > thr);
    // The landmark crop follows the detector that found the face
    // (out->detector, ft_landmark_box), the fallback's when it ran.
    return describe_one(m, ctx, im, o, out, NULL, err);
}
