// Training datasets: labelme import, the dataset folder, the seeded split,
// box-aware augmentation and its preview.
//
// A dataset ("DS") is a folder:
//   DS/dataset.jsonl   one JSON object per photo, in import order:
//                      {"image": "images/a.jpg", "width": W, "height": H,
//                       "boxes": [[x1, y1, x2, y2, "label"], ...], "split": "train"}
//                      boxes in pixels (x1 < x2, y1 < y2, inside the image);
//                      "split" is "train", "val", "test" or null (not split yet).
//   DS/images/         the photos, bytes unchanged (inline labelme imageData
//                      is written out as a file).
//   DS/aug/<split>.jsonl + DS/aug/<split>/NNNNNN.jpg   augmented samples:
//                      {"image": "aug/train/000001.jpg", "source": "images/a.jpg",
//                       "boxes": [[x1, y1, x2, y2, "label"]]} with boxes normalised
//                      to [0, 1] of the sample.
// Photos without a box are face-free samples. A box's label is "face" or a
// person's name (identities).
#ifndef FT_TRAIN_DATASET_H
#define FT_TRAIN_DATASET_H

#include "core/status.h"
#include "io/image.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ft_split {
    FT_SPLIT_NONE = 0,
    FT_SPLIT_TRAIN,
    FT_SPLIT_VAL,
    FT_SPLIT_TEST,
} ft_split;

const char *ft_split_name(ft_split s); // "train", "val", "test", NULL for none
// FT_E_INVALID for an unknown name.
ft_status ft_split_parse(const char *name, ft_split *out);

typedef struct ft_ds_box {
    double x1, y1, x2, y2; // pixels of the photo, or [0, 1] for augmented samples
    char *label;
} ft_ds_box;

typedef struct ft_ds_sample {
    char *image;  // path relative to the dataset folder
    char *source; // augmented samples: the photo it came from; else NULL
    int32_t width, height;
    size_t n_boxes;
    ft_ds_box *boxes;
    ft_split split;
} ft_ds_sample;

typedef struct ft_dataset {
    char *dir;
    size_t n;
    ft_ds_sample *s;
} ft_dataset;

// Reads DS/dataset.jsonl. Errors: FT_E_NOT_FOUND (no dataset there),
// FT_E_FORMAT (a bad line, named by number), FT_E_NOMEM.
ft_status ft_dataset_load(const char *dir, ft_dataset **out, ft_err *err);
// Reads DS/aug/<split>.jsonl (normalised boxes). FT_E_NOT_FOUND when the
// split was not augmented.
ft_status ft_dataset_load_aug(const char *dir, ft_split split, ft_dataset **out, ft_err *err);
// Rewrites DS/dataset.jsonl atomically.
ft_status ft_dataset_save(const ft_dataset *ds, ft_err *err);
void ft_dataset_free(ft_dataset *ds);
// Distinct box labels other than "face", sorted (borrowed from ds, valid
// until ft_dataset_free); *n gets the count. Caller frees the array.
ft_status ft_dataset_identities(const ft_dataset *ds, const char ***names, size_t *n);

// ---- labelme ----

// One labelme file's content, as far as facetracker uses it.
typedef struct ft_labelme_doc {
    char *image_path;    // may be NULL when image_data is present
    uint8_t *image_data; // decoded base64 imageData, or NULL
    size_t image_data_len;
    int32_t width, height; // imageWidth/imageHeight, 0 when absent
    size_t n_boxes;
    ft_ds_box *boxes; // rectangle corners sorted so x1 < x2, y1 < y2
} ft_labelme_doc;

// Memory entry point: parses and checks one labelme JSON document (shapes
// must be rectangles with two numeric points and a non-empty label,
// imagePath a string, imageData null or base64). `name` is used in
// messages. FT_E_FORMAT with the reason in err; nothing written on failure.
ft_status ft_labelme_parse(const char *name, const uint8_t *buf, size_t len, ft_labelme_doc *out,
                           ft_err *err);
void ft_labelme_doc_deinit(ft_labelme_doc *d);

// Called once per problem found (file name, message).
typedef void (*ft_problem_fn)(void *ctx, const char *file, const char *msg);

typedef struct ft_import_opts {
    bool skip_bad; // import the good files even when some have problems
    bool force;    // allow an existing output dataset to be replaced
    ft_image_limits limits;
} ft_import_opts;

ft_import_opts ft_import_opts_default(void);

typedef struct ft_import_report {
    size_t n_json, n_photos, n_with_faces, n_face_free, n_boxes, n_multi_face, n_problems;
    size_t n_imported;
} ft_import_report;

// Imports a labelme folder: every *.json is checked (parse, shapes, photo
// present and decodable, sizes agree, boxes inside the photo); every photo
// no JSON refers to becomes a face-free sample. Each problem is reported
// through `fn` and the scan goes on. With problems and !skip_bad nothing
// is written and FT_E_FORMAT is returned; an empty folder is FT_E_NOT_FOUND.
ft_status ft_labelme_import(const char *src_dir, const char *out_dir, const ft_import_opts *o,
                            ft_problem_fn fn, void *ctx, ft_import_report *rep, ft_err *err);

// Writes one labelme JSON (rectangle shapes, imagePath relative, no
// imageData) for `image_path` with the given pixel boxes.
ft_status ft_labelme_write(const char *json_path, const char *image_path, int32_t width,
                           int32_t height, const ft_ds_box *boxes, size_t n_boxes, ft_err *err);

// ---- Split ----

// Assigns every photo to train/val/test with a seeded shuffle, separately
// for photos with and without faces so both kinds land in every split in
// the given proportions (fractions must be >= 0 and sum to 1 +- 1e-6).
ft_status ft_dataset_split(ft_dataset *ds, double train, double val, double test, uint64_t seed,
                           ft_err *err);

// ---- Augmentation ----

typedef struct ft_augment_opts {
    int32_t per_image;     // samples per photo (20)
    uint64_t seed;         // same seed, same samples
    int32_t crop_w, crop_h; // with crop_frac 0: random crop size in pixels (450 x 450), clamped
    double crop_frac;      // > 0: crop this fraction of each side instead (0.85)
    double p_hflip, p_vflip; // 0.5, 0
    double p_brightness_contrast, p_gamma, p_rgb_shift; // 0.2 each
    double min_visibility; // a box keeps >= this fraction of its area or is dropped (0.5)
    int32_t out_size;      // samples are stored resized to out_size^2 (120)
    bool splits[4];        // which splits to augment (indexed by ft_split); train, val
    int jpeg_quality;      // 95
} ft_augment_opts;

ft_augment_opts ft_augment_opts_default(void);

typedef struct ft_augment_report {
    size_t n_samples[4], n_face[4], n_dropped_boxes;
} ft_augment_report;

ft_status ft_dataset_augment(const ft_dataset *ds, const ft_augment_opts *o,
                             const ft_image_limits *lim, ft_augment_report *rep, ft_err *err);

// A grid (cols x rows) of augmented samples of `split` with their boxes,
// written to `out_path` (.jpg/.png).
ft_status ft_augment_preview(const char *dir, ft_split split, int32_t cols, int32_t rows,
                             uint64_t seed, const char *out_path, const ft_image_limits *lim,
                             ft_err *err);

// ---- Pixels ----

// Area-average resize of an RGB image to out_w x out_h (each output pixel
// is the mean of the source area it covers, fractional coverage weighted).
// Used for augmented samples and for the model input, so training and
// inference see the same resampling.
ft_status ft_train_resize(const ft_image *src, int32_t out_w, int32_t out_h, ft_image *out);

// Deterministic random numbers (splitmix64 seeding xoshiro256**).
typedef struct ft_rng {
    uint64_t s[4];
} ft_rng;
void ft_rng_seed(ft_rng *r, uint64_t seed);
uint64_t ft_rng_next(ft_rng *r);
double ft_rng_uniform(ft_rng *r); // [0, 1)
// Uniform integer in [0, n).
uint64_t ft_rng_below(ft_rng *r, uint64_t n);

#endif
