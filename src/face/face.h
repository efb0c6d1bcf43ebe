// The face pipeline: detectors (YuNet-s, the default; face-api's SSD
// MobileNetV1 and tiny face detector),
// 68-point landmarks (full and tiny), alignment and the 128-d descriptor,
// built on the engine (src/nn) and the tfjs loader (src/model), following
// ../shared/docs/faceapi-models.md.
//
// Threading: a loaded ft_face_models is read-only and shared by any number
// of threads; each thread runs inferences with its own ft_nn_ctx.
#ifndef FT_FACE_FACE_H
#define FT_FACE_FACE_H

#include "core/status.h"
#include "io/image.h"
#include "nn/nn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FT_DESCRIPTOR_DIM 128
#define FT_LANDMARKS 68

typedef enum ft_detector_kind {
    FT_DETECTOR_SSD = 0, // SSD MobileNetV1, input 512: face-api's accurate detector
    FT_DETECTOR_TINY,    // tiny face detector, input 416 by default: fast
    FT_DETECTOR_YUNET,   // YuNet-s (ONNX, models/yunet): at the image's own size, 5 keypoints;
                         // the default (ft_detect_opts_default) since issue 11
} ft_detector_kind;

// "ssd", "tiny", "yunet" -> the kind; false for anything else.
bool ft_detector_parse(const char *s, ft_detector_kind *out);
// The kind's name as ft_detector_parse takes it ("ssd" for unknown values).
const char *ft_detector_name(ft_detector_kind k);

typedef enum ft_align_mode {
    FT_ALIGN_FACEAPI = 0, // face-api's axis-aligned dlib-style crop (§8.1): conforms
    FT_ALIGN_SIMILARITY,  // rotate+scale eyes/mouth to a canonical position
} ft_align_mode;

// A detection in pixels of the (orientation-corrected) image.
typedef struct ft_face_box {
    double x, y, w, h;
    double score;
} ft_face_box;

typedef struct ft_point {
    double x, y;
} ft_point;

// Keypoints a detector gives with a box (YuNet: right eye, left eye, nose
// tip, right mouth corner, left mouth corner, in image pixels; "right" is
// the person's right, on the image's left). n = 0 for detectors without.
#define FT_KEYPOINTS 5
typedef struct ft_face_kps {
    ft_point p[FT_KEYPOINTS];
    int n;
} ft_face_kps;

// Which networks to load. Missing files for a requested net are an error.
typedef struct ft_models_opts {
    const char *dir; // folder with the *-weights_manifest.json files; NULL = default
    bool ssd, tiny, landmarks, landmarks_tiny, recognition;
    bool yunet;             // YuNet-s from yunet_path (checked against its SHA-256)
    const char *yunet_path; // the .onnx file; NULL = ft_yunet_default_path()
} ft_models_opts;

ft_models_opts ft_models_opts_default(void); // all six, default paths

// The YuNet-s file: $FT_YUNET_MODEL, else <executable's dir>/../share/
// facetracker/models/yunet/yunet_s_640_640.onnx when it exists, else the
// source tree's models/yunet/ (a binary run from its build tree), else
// the configured install prefix's.
const char *ft_yunet_default_path(void);
// SHA-256 of the one YuNet-s file facetracker accepts (models/yunet/NOTICE).
#define FT_YUNET_SHA256 "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"

typedef struct ft_face_models ft_face_models;

// Default model folder: $FT_MODELS_DIR, else <executable's dir>/../share/
// facetracker/model when it exists (an installed or unpacked package),
// else the build's fetched cache, else the configured install prefix's.
const char *ft_models_default_dir(void);

ft_status ft_face_models_load(const ft_models_opts *o, ft_face_models **out, ft_err *err);
void ft_face_models_free(ft_face_models *m);
bool ft_face_models_has(const ft_face_models *m, const char *net); // "ssd", "tiny", ...

// ---- Detection ----

typedef struct ft_detect_opts {
    ft_detector_kind kind;
    double min_score;  // strict: score > min_score; default 0.5 (every detector)
    int32_t max_faces; // SSD maxResults, YuNet's too; default 100 (tiny: no limit unless set)
    int32_t input_size; // tiny only, multiple of 32; default 416
    // YuNet only: just the run at the photo's own size, as OpenCV's
    // FaceDetectorYN does (the conformance tests); default false: photos
    // longer than 640 px also run reduced to 640, for faces too large for
    // the full-size run (src/face/yunet.c).
    bool single_scale;
} ft_detect_opts;

// kind YuNet (load it: ft_models_opts.yunet), min_score 0.5, max_faces 100,
// input_size 416, single_scale false.
ft_detect_opts ft_detect_opts_default(void);

typedef struct ft_detect_timing {
    double preprocess_ms, network_ms, postprocess_ms;
} ft_detect_timing;

// Finds faces; results in descending score (NMS order). At most `cap`
// boxes are written; *n_out is the number found (may exceed cap only if
// cap is smaller than max_faces; then the best cap are kept).
ft_status ft_detect(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                    const ft_detect_opts *o, ft_face_box *out, size_t cap, size_t *n_out,
                    ft_detect_timing *timing, ft_err *err);
// The same, with each box's keypoints in kps[i] (caller array of `cap`;
// n = 0 for detectors without keypoints). ft_detect is this with NULL.
ft_status ft_detect_kps(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                        const ft_detect_opts *o, ft_face_box *out, ft_face_kps *kps, size_t cap,
                        size_t *n_out, ft_detect_timing *timing, ft_err *err);

// Raw YuNet head outputs, for conformance tests: for stride s = 8, 16, 32
// (index 0..2) and N = (H/s)(W/s) cells of the input padded to multiples
// of 32 (photos over 8.5 megapixels are first reduced by an integer
// factor, a box average, and boxes scaled back), cls[s] and obj[s] (N, after the sigmoid), bbox[s] (N x 4) and
// kps[s] (N x 10), row-major as the ONNX outputs. Borrowed from the
// context's arena: valid until its next inference.
typedef struct ft_yunet_raw {
    int32_t in_h, in_w; // padded input size
    size_t n[3];
    const float *cls[3], *obj[3], *bbox[3], *kps[3];
} ft_yunet_raw;
ft_status ft_yunet_run_raw(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                           ft_yunet_raw *out, ft_err *err);

// Raw SSD outputs before NMS, for conformance tests: per anchor (5118) the
// score sigmoid(logit[1]) and the 4 box codes (ty, tx, th, tw). Arrays are
// caller-owned, sized FT_SSD_ANCHORS and 4*FT_SSD_ANCHORS.
#define FT_SSD_ANCHORS 5118
ft_status ft_ssd_raw(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im, float *scores,
                     float *codes, ft_err *err);
// The stored anchors (ymin, xmin, ymax, xmax), borrowed.
const float *ft_ssd_anchors(const ft_face_models *m);

// ---- Landmarks, alignment, descriptor ----

typedef struct ft_face {
    ft_face_box box;
    ft_point landmarks[FT_LANDMARKS];
    float descriptor[FT_DESCRIPTOR_DIM];
    bool has_landmarks, has_descriptor;
    ft_face_kps kps; // the detector's keypoints (n = 0 for detectors without)
    // The detector that found the face (ft_faces_describe sets it; after
    // ft_face_single, the one its fallback ran when the asked one found
    // nothing). Its boxes decide the landmark crop (ft_landmark_box).
    ft_detector_kind detector;
} ft_face;

// 68 points in image pixels for a detection (full or tiny net).
ft_status ft_landmarks(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                       const ft_face_box *box, bool tiny, ft_point out[FT_LANDMARKS], ft_err *err);
// The box to give ft_landmarks for a detection of detector `kind`: the
// box itself for the SSD and the tiny detector (face-api's pipeline); a
// YuNet box mapped to the box face-api's SSD would give for the face (the
// landmark net was trained on such crops; the fit is in yunet.c). Every
// path that runs the landmark net on a detector's box goes through this,
// so enrolment and probes cut the same crop.
ft_face_box ft_landmark_box(ft_detector_kind kind, const ft_face_box *b);

// The 128-d descriptor for a face with landmarks, using `mode` to cut the
// 150x150 input.
ft_status ft_descriptor(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                        const ft_face_box *box, const ft_point lm[FT_LANDMARKS], ft_align_mode mode,
                        float out[FT_DESCRIPTOR_DIM], ft_err *err);

// The 128-d descriptor with the similarity alignment (FT_ALIGN_SIMILARITY's
// template and warp) fitted to a detector's five keypoints (YuNet's: eyes,
// nose tip, mouth corners) instead of the 68-point landmarks, so the
// landmark net need not run. kps->n must be FT_KEYPOINTS (else
// FT_E_INVALID). YuNet's points are not dlib's (its nose point sits
// higher, its eyes are not the six-point means), so the chip differs: the
// descriptors are NOT comparable with 68-point ones (0.65 apart for one
// face in bench_yunet door); enrol and probe with the same alignment.
// Thread-safety as ft_descriptor.
ft_status ft_descriptor_kps(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                            const ft_face_box *box, const ft_face_kps *kps,
                            float out[FT_DESCRIPTOR_DIM], ft_err *err);

// ---- The whole pipeline ----

typedef struct ft_describe_opts {
    ft_detect_opts detect;
    bool landmarks;      // compute 68 points (needed for descriptors)
    bool tiny_landmarks; // use the tiny landmark net
    bool descriptors;    // compute 128-d descriptors
    ft_align_mode align;
    // With the similarity alignment and a detector that gives five
    // keypoints (YuNet): cut the descriptor's chip from them
    // (ft_descriptor_kps) and skip the 68-point net (has_landmarks stays
    // false). Default false.
    bool align_kps;
} ft_describe_opts;

// ft_detect_opts_default() (YuNet), full landmarks, descriptors with the default alignment
// (ft_align_default()).
ft_describe_opts ft_describe_opts_default(void);
ft_align_mode ft_align_default(void);
const char *ft_align_name(ft_align_mode a); // "faceapi" / "similarity"
// The descriptor space an alignment produces, as galleries record it on
// samples ("face_recognition_model@face-api-1.7.15/similarity"): only
// descriptors of one space are compared.
const char *ft_descriptor_space(ft_align_mode a);
bool ft_align_parse(const char *s, ft_align_mode *out);

typedef struct ft_describe_timing {
    double detect_ms, landmarks_ms, descriptor_ms;
} ft_describe_timing;

// Detects every face, then landmarks and descriptors as asked. At most
// `cap` faces are described; *n_out is how many were.
ft_status ft_faces_describe(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                            const ft_describe_opts *o, ft_face *out, size_t cap, size_t *n_out,
                            ft_describe_timing *timing, ft_err *err);

// For enrolment and verification, which expect exactly one face: more
// than one face above the threshold is FT_E_MANY_FACES; none above it
// falls back to the best candidate scoring above `floor` (face-api's
// pipeline scores some ordinary single-face photos 0.24-0.38), reported
// through *below_threshold; none above the floor is FT_E_NO_FACE.
// When the detector finds nothing above the floor, another detector (if
// loaded: the SSD after YuNet or the tiny detector, the tiny one after the
// SSD) is tried, its box described as that detector's, then detection on a copy with a black border (for
// photos that are tight face crops; the box may then extend past the
// photo). With `central`, several faces are not an error: the photo's
// subject is taken by ft_face_pick_subject (for portrait sets such as LFW).
#define FT_SINGLE_FACE_FLOOR 0.2
ft_status ft_face_single(const ft_face_models *m, ft_nn_ctx *ctx, const ft_image *im,
                         const ft_describe_opts *o, double floor, bool central, ft_face *out,
                         bool *below_threshold, ft_err *err);

// The one rule for choosing a photo's or a frame's subject among n
// candidate boxes of a w x h image: score first, then size and centrality.
// Boxes scoring under FT_SUBJECT_SCORE_RATIO times the best score are out;
// among the others the largest score x ft_face_subject_value wins (ties:
// the earlier box). Returns the index (0 when n == 0). Pure function.
#define FT_SUBJECT_SCORE_RATIO 0.25
size_t ft_face_pick_subject(const ft_face_box *boxes, size_t n, int32_t w, int32_t h);
// Box area times closeness of its centre to the image centre (1 at the
// centre, 0 at a corner or beyond); 0 for an empty box.
double ft_face_subject_value(const ft_face_box *b, int32_t w, int32_t h);

// A small JPEG of a face for galleries and logs: the box grown by 25 % on
// each side, clipped, scaled down (area average) so the longer side is at
// most `max_side` px. Replaces the contents of `out`.
#define FT_THUMB_PX 96
ft_status ft_face_thumbnail(const ft_image *im, const ft_face_box *box, int32_t max_side,
                            ft_buf *out, ft_err *err);

// Euclidean distance between two descriptors (face-api compares raw,
// unnormalised descriptors; its default threshold is 0.6).
float ft_descriptor_distance(const float *a, const float *b);

#endif
