// The trainable face tracker model, its training loop and its evaluation.
//
// Architecture (the prototype's, with MobileNetV1 in place of VGG16):
//   input 120x120 RGB scaled to [0, 1]
//   backbone: MobileNetV1 L0..L13 of the SSD detector (faceapi-models.md
//     §5.1): conv 3x3/2 + 13 x (depthwise 3x3 + pointwise 1x1), each + bias
//     + ReLU6, 120x120x3 -> 4x4x1024. The depthwise batch norms are folded
//     into the depthwise weights and a bias; the SSD's x/127.5 - 1 input
//     normalisation is folded into L0 (w' = 2w, b' = b - sum w), so the
//     model takes [0, 1] input and the pretrained features stay as they were
//     (except at the zero padding of L0).
//   global max pooling -> 1024
//   class head: dense 2048 ReLU -> dense 1 sigmoid (face / no face)
//   box head:   dense 2048 ReLU -> dense 4 sigmoid (x1, y1, x2, y2 in [0, 1])
//   identity head (optional): dense K softmax over the person names.
// Loss per batch: box_weight x sum over face samples of the box loss
// (ft_train_opts.box_loss: GIoU by default, or the prototype's ft_loss_box)
// + 0.5 * mean binary cross-entropy (+ mean softmax cross-entropy over
// samples labelled with a person).
#ifndef FT_TRAIN_MODEL_H
#define FT_TRAIN_MODEL_H

#include "core/status.h"
#include "io/image.h"
#include "nn/train/grad.h"
#include "train/dataset.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FT_FM_INPUT 120
#define FT_FM_FEATURES 1024
#define FT_FM_HIDDEN 2048
#define FT_FM_CONVS 27

typedef struct ft_fmodel ft_fmodel;

// A new model: backbone from the SSD manifest (ssd_mobilenetv1_model-
// weights_manifest.json), heads Glorot-uniform initialised from `seed`
// (Keras's default), biases zero. `ids` (n_ids names, copied) adds the
// identity head when n_ids > 0.
ft_status ft_fmodel_new(const char *ssd_manifest, const char *const *ids, size_t n_ids,
                        uint64_t seed, ft_fmodel **out, ft_err *err);
void ft_fmodel_free(ft_fmodel *m);

// Keras .h5 (src/model/h5.h): layers input_1, conv0, conv{i}_dw, conv{i}_pw,
// global_max_pooling2d, dense, dense_1 (class), dense_2, dense_3 (box),
// identity; outputs [dense_1, dense_3(, identity)]. Identity names go to
// PATH.identities.txt, one a line. Loading checks that the file holds this
// architecture: other layers, shapes or missing layers are FT_E_UNSUPPORTED
// / FT_E_FORMAT naming the layer.
ft_status ft_fmodel_save(const ft_fmodel *m, const char *path, ft_err *err);
ft_status ft_fmodel_load(const char *path, ft_fmodel **out, ft_err *err);

// Starts the box head at a prior box: its last kernel zero and its bias
// logit(prior) (each coordinate clamped to [0.02, 0.98]), so every first
// prediction is the prior and the IoU losses have an overlap to work on
// from the first step (Glorot's random start gives near-degenerate boxes
// around 0.5 and a plateau of several epochs, docs/TRAINING.md).
void ft_fmodel_box_prior(ft_fmodel *m, const float prior[4]);

size_t ft_fmodel_n_params(const ft_fmodel *m);
size_t ft_fmodel_n_ids(const ft_fmodel *m);
const char *ft_fmodel_id_name(const ft_fmodel *m, size_t i);

// One prediction on a whole photo (area-resized to 120x120).
typedef struct ft_fm_pred {
    float score;  // face probability
    float box[4]; // x1, y1, x2, y2 as fractions of the photo
    int32_t id;   // best identity or -1
    float id_prob;
} ft_fm_pred;

// Not thread-safe per model (uses the model's scratch); one model per thread.
ft_status ft_fmodel_predict(ft_fmodel *m, const ft_image *im, ft_fm_pred *out, ft_err *err);

// ---- Training ----

// Progress of ft_train_run, reported through ft_train_opts.on_progress
// (the library never prints; the CLI draws the bar).
typedef enum ft_train_event {
    FT_TRAIN_EV_CACHE, // computing the frozen part once: n_train + n_val samples, conv `from`
    FT_TRAIN_EV_BATCH, // every few batches: done of total, running means
    FT_TRAIN_EV_EPOCH, // an epoch ended: stats
    FT_TRAIN_EV_STOP,  // early stop after `patience` epochs without a better val loss
} ft_train_event;

struct ft_epoch_stats;
typedef struct ft_train_progress {
    ft_train_event ev;
    int32_t epoch, epochs;             // 1-based
    size_t done, total;                // batches (FT_TRAIN_EV_BATCH)
    double loss, class_loss, box_loss; // running means (FT_TRAIN_EV_BATCH)
    double elapsed;                    // seconds in this epoch
    const struct ft_epoch_stats *stats; // FT_TRAIN_EV_EPOCH
    size_t n_train, n_val;             // FT_TRAIN_EV_CACHE
    int32_t from;                      // FT_TRAIN_EV_CACHE: first trained conv (27: heads only)
    int32_t patience;                  // FT_TRAIN_EV_STOP
} ft_train_progress;

typedef void (*ft_train_progress_fn)(void *ctx, const ft_train_progress *p);

// Learning rate over the steps (ft_train_lr below).
typedef enum ft_lr_schedule {
    FT_LR_INVERSE_TIME,
    FT_LR_COSINE,
    FT_LR_CONSTANT,
} ft_lr_schedule;

typedef struct ft_train_opts {
    int32_t epochs;       // 10
    int32_t patience;     // early stopping: epochs without a better val loss (3)
    int32_t batch;        // 10
    bool fine_tune;       // backpropagate into the backbone (true; else frozen, features cached)
    int32_t fine_tune_from; // with fine_tune: first backbone conv that trains (25; 0 = all)
    uint64_t seed;        // 1
    int threads;          // <= 0: all cores
    double lr;            // 1e-4
    double decay_epochs_factor; // decay = (1/0.75 - 1) / batches_per_epoch
    bool identities;      // add the identity head
    ft_train_progress_fn on_progress; // NULL: silent
    void *progress_ctx;
    int32_t max_batches;  // > 0: stop each epoch after this many batches (benchmarks/tests)
    // Fine-tune from conv K > 0: convs 0..K-1 are frozen, so ft_train_run
    // computes their output (the input of conv K) once per sample and keeps
    // it when all of them fit in this many MiB (4096; 0 = recompute every
    // step). Same weights either way, bit for bit (tested).
    size_t cache_mb;
    ft_box_loss box_loss; // FT_BOX_LOSS_* of nn/train/grad.h (giou; prototype, diou, ciou)
    double box_weight;    // the box loss's weight in the total (0.25)
    ft_lr_schedule lr_schedule; // FT_LR_INVERSE_TIME (the prototype's)
    // Box head start: false = Glorot like the other layers (Keras's
    // default, the prototype's); true = ft_fmodel_box_prior at the mean
    // face box of the training samples.
    bool box_prior;
} ft_train_opts;

ft_train_opts ft_train_opts_default(void);

// The learning rate of Adam step t (from 1) with spe steps an epoch:
//   FT_LR_INVERSE_TIME: lr / (1 + d (t - 1)), d = decay_epochs_factor / spe
//                       (Keras's "decay", the prototype's)
//   FT_LR_COSINE:       lr (1 + cos(pi min(1, (t - 1) / (epochs spe)))) / 2
//                       (from lr at the first step to 0 after `epochs`)
//   FT_LR_CONSTANT:     lr
double ft_train_lr(const ft_train_opts *o, int64_t t, int64_t spe);
// "inverse-time", "cosine", "constant".
const char *ft_lr_schedule_name(ft_lr_schedule s);
ft_status ft_lr_schedule_parse(const char *s, ft_lr_schedule *out);

typedef struct ft_epoch_stats {
    double loss, class_loss, box_loss, id_loss;
    double val_loss, val_class_loss, val_box_loss, val_id_loss;
    double lr, seconds;
    double images_per_s;
} ft_epoch_stats;

typedef struct ft_train_result {
    int32_t n_epochs, best_epoch; // 1-based
    // The restored model on the val split's photos (not augmented), when
    // the split has photos: has_val_eval, accuracy, mean IoU, histogram.
    bool has_val_eval;
    double val_accuracy, val_mean_iou;
    size_t val_iou_hist[10];
    ft_epoch_stats *history;      // n_epochs entries, caller frees with ft_free
    size_t n_train, n_val;
    double seconds, feature_seconds;
    double images_per_s; // training samples per second over all epochs (forward+backward+update)
} ft_train_result;

// Trains a new model on DS (augmented train/val samples when present,
// else the split's photos) and returns it with the best validation weights
// restored. Nothing is written; the caller saves. ssd_manifest NULL: a
// random backbone (tests).
ft_status ft_train_run(const char *ds_dir, const char *ssd_manifest, const ft_train_opts *o,
                       ft_fmodel **out, ft_train_result *res, ft_err *err);

// History as CSV and as an SVG plot of total, class and box loss.
ft_status ft_train_history_csv(const ft_train_result *r, const char *path, ft_err *err);
ft_status ft_train_history_svg(const ft_train_result *r, const char *path, ft_err *err);

// One training step on raw inputs, for tests and benchmarks: x is n
// samples of 120x120x3 floats, face[i] 0/1, box 4 per sample, id -1 or an
// identity. Returns the batch losses. `t` is the Adam step (from 1).
typedef struct ft_fm_trainer ft_fm_trainer;
ft_status ft_fm_trainer_new(ft_fmodel *m, const ft_train_opts *o, ft_fm_trainer **out);
void ft_fm_trainer_free(ft_fm_trainer *t);
ft_status ft_fm_trainer_step(ft_fm_trainer *t, const float *x, const float *face, const float *box,
                             const int32_t *id, int32_t n, double *loss, double *class_loss,
                             double *box_loss);
// Gradients of the last step (n_params floats, same layout as the
// parameters), for gradient checks; and direct access to the parameters.
const float *ft_fm_trainer_grad(const ft_fm_trainer *t);
float *ft_fmodel_params(ft_fmodel *m);
// The loss of a batch without updating anything (double-checked by tests
// against central differences of the gradient above).
ft_status ft_fm_trainer_loss(ft_fm_trainer *t, const float *x, const float *face, const float *box,
                             const int32_t *id, int32_t n, double *loss);
// Builds a model with random backbone weights (no manifest), for tests and
// benchmarks.
ft_status ft_fmodel_new_random(const char *const *ids, size_t n_ids, uint64_t seed,
                               ft_fmodel **out);

// ---- Evaluation ----

typedef struct ft_eval_result {
    size_t n, n_face, tp, fp, tn, fn;
    double accuracy, precision, recall, mean_iou; // IoU over photos with a face
    size_t iou_hist[10];                          // [0, .1), ..., [.9, 1]
    size_t n_id, id_correct;
} ft_eval_result;

typedef struct ft_eval_opts {
    bool augmented;       // the split's augmented samples instead of its photos (false)
    bool flip;            // test-time flip averaging (ft_fmodel_set_flip) (true)
    // Contact sheet: when not NULL, writes DIR/contact.jpg (DIR made if
    // missing): the evaluated samples at 2x (240x240), 8 a row, the human
    // box in green, the predicted box in red (2 px when the score is over
    // 0.5, 1 px otherwise), score and IoU under each, misses and false
    // faces in red. Samples beyond draw_max (96) are left out.
    const char *draw_dir;
    int32_t draw_max;
} ft_eval_opts;

ft_eval_opts ft_eval_opts_default(void);

// Evaluates on the split's photos (or its augmented samples). A photo
// with several boxes is scored against its first box. o NULL: defaults.
ft_status ft_fmodel_evaluate(ft_fmodel *m, const char *ds_dir, ft_split split,
                             const ft_eval_opts *o, ft_eval_result *out, ft_err *err);

// Test-time flip averaging for ft_fmodel_predict and evaluation: the photo
// and its mirror image both go through the model; the score is the mean of
// the two scores and the box the mean of the box and the mirrored box of
// the mirror (x1' = 1 - x2, x2' = 1 - x1). Twice the inference time. On by
// default (chosen on validation, docs/TRAINING.md).
void ft_fmodel_set_flip(ft_fmodel *m, bool on);

#endif
