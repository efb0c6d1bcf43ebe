// faceres: the 1024-d face descriptor network of @vladmandic/human 3.3.6
// (models/faceres.json + faceres.bin, MIT; "based on HSE-FaceRes", a
// MobileNetV1 trained for identification on VGGFace2), run by our engine
// from the tfjs graph model itself: the graph (model/tfjs_graph.h) is
// compiled at load into convolution layers with their batch-norm affine
// and ReLU6 folded in, checked op by op, so a different file with the same
// structure runs too and anything else is refused with FT_E_UNSUPPORTED.
//
// Input (not what Human itself feeds it; issue 12 measured this one 2.5
// points better): the face box scaled 1.4x about its centre, sampled to
// 224x224 exactly as tf.image.cropAndResize(image, [[y1, x1, y2, x2]],
// [0], [224, 224], 'bilinear', 0) does, where the normalised corners are
// the scaled box's pixel corners divided by (W - 1) and (H - 1) and
// rounded to float32 (a box tensor is float32); samples outside the image
// are 0. Channels reversed to BGR, minus the ImageNet means (103.939,
// 116.779, 123.68), each value rounded to float32 once, as tfjs's sub does.
// Output: the tensor `global_pooling/Mean` (1024 floats, not normalised);
// descriptors are compared by cosine distance. The age/gender heads are
// not run.
//
// Threading: a loaded ft_faceres is read-only and shared by any number of
// threads; each thread runs with its own ft_nn_ctx.
#ifndef FT_FACE_FACERES_H
#define FT_FACE_FACERES_H

#include "core/status.h"
#include "face/face.h"
#include "model/tfjs.h"
#include "model/tfjs_graph.h"
#include "nn/nn.h"

#include <stddef.h>
#include <stdint.h>

#define FT_FACERES_DIM 1024
#define FT_FACERES_SIZE 224
#define FT_FACERES_SCALE 1.4

typedef struct ft_faceres ft_faceres;

typedef struct ft_faceres_limits {
    ft_tfjs_limits weights;     // the weights manifest and faceres.bin
    ft_tfjs_graph_limits graph; // the topology
} ft_faceres_limits;

ft_faceres_limits ft_faceres_limits_default(void);

// Loads the network from `path`: a model.json file (faceres.json), or a
// folder holding faceres.json (or models/faceres.json, as in the npm
// package). `lim` may be NULL (defaults). FT_E_IO / FT_E_NOT_FOUND for
// missing files, FT_E_FORMAT for bad files, FT_E_UNSUPPORTED for a graph
// this compiler does not handle (the message names the node), FT_E_LIMIT,
// FT_E_NOMEM. The result is released with ft_faceres_free.
ft_status ft_faceres_load(const char *path, const ft_faceres_limits *lim, ft_faceres **out,
                          ft_err *err);
// Memory entry point: `json` is faceres.json's text, `bin` the bytes of
// all its shards in manifest order. Same errors as ft_faceres_load.
ft_status ft_faceres_parse(const uint8_t *json, size_t json_len, const uint8_t *bin,
                           size_t bin_len, const ft_faceres_limits *lim, ft_faceres **out,
                           ft_err *err);
void ft_faceres_free(ft_faceres *net);

// The descriptor of the face in `box` (pixels of `im`): crop, preprocess
// and network. Uses the context's arena (reset by this call) and pool.
// FT_E_INVALID for an image smaller than 2x2 or a box that is not finite
// with positive size, FT_E_NOMEM.
ft_status ft_faceres_describe(const ft_faceres *net, ft_nn_ctx *ctx, const ft_image *im,
                              const ft_face_box *box, float out[FT_FACERES_DIM], ft_err *err);

// Cosine distance 1 - a.b / (|a| |b|), in double; 1 when either is zero.
double ft_faceres_distance(const float a[FT_FACERES_DIM], const float b[FT_FACERES_DIM]);

// ---- The two halves, for tests and benchmarks ----

// The preprocessed input (224 x 224 x 3, HWC, BGR minus the means) for
// `box`, into caller storage. FT_E_INVALID as for ft_faceres_describe.
ft_status ft_faceres_prepare(const ft_image *im, const ft_face_box *box, float *out,
                             ft_err *err);
// The network alone on a prepared input (224 x 224 x 3). Uses the context's
// arena (reset by this call). FT_E_NOMEM.
ft_status ft_faceres_run(const ft_faceres *net, ft_nn_ctx *ctx, const float *in,
                         float out[FT_FACERES_DIM], ft_err *err);

// As ft_faceres_run, also storing each step's wall time in step_ms
// (ft_faceres_steps(net) + 1 entries: the steps, then the Mean).
ft_status ft_faceres_run_timed(const ft_faceres *net, ft_nn_ctx *ctx, const float *in,
                               float out[FT_FACERES_DIM], double *step_ms, ft_err *err);
// The execution steps (a layer, a fused depthwise+pointwise pair, or two
// chained pairs) and a one-line description of step i (i == steps: the
// Mean) into buf.
size_t ft_faceres_steps(const ft_faceres *net);
const char *ft_faceres_step_desc(const ft_faceres *net, size_t i, char *buf, size_t cap);

// What the compiler made of the graph, for logs and tests: the number of
// convolution layers (regular + depthwise) and of graph nodes they cover.
size_t ft_faceres_layers(const ft_faceres *net, size_t *n_nodes);

#endif
