// Keras models in HDF5 (`.h5`), the "legacy h5" layout that tf.keras 2.x
// and Keras 3 both write and read. Layout, as h5py shows it:
//   /                 attrs keras_version (str), backend (str),
//                     model_config (bytes: JSON {"class_name": "Functional",
//                     "config": {"name", "layers": [...], "input_layers",
//                     "output_layers"}}), training_config (optional, ignored)
//   /model_weights    attrs layer_names (array of bytes; split into
//                     layer_names0, layer_names1... past 64512 bytes),
//                     backend, keras_version (bytes)
//   /model_weights/<layer>          attr weight_names (array of bytes, or an
//                                   empty float64 array for no weights)
//   /model_weights/<layer>/<w>      one dataset per weight name <w>, e.g.
//                                   "<layer>/kernel:0" (Keras 2) or
//                                   "<layer>/kernel" (Keras 3); a nested
//                                   model's group holds "<sublayer>/kernel:0"...
//   /model_weights/top_level_model_weights   Keras 3 only, usually empty
// Keras 2 and 3 differ in the layer configs' inbound_nodes: Keras 2 lists
// [[["layer", node, tensor, {kwargs}]]], Keras 3 {"args": [{"class_name":
// "__keras_tensor__", "config": {"keras_history": [layer, node, tensor]}}]}.
//
// libhdf5 (serial build) is not thread-safe: every function here holds one
// process-wide lock while it calls into it. HDF5's automatic error printing
// is switched off during our calls; its messages end up in `err`.
#ifndef FT_MODEL_H5_H
#define FT_MODEL_H5_H

#include "core/buf.h"
#include "core/status.h"
#include "model/graph.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ft_h5_limits {
    size_t max_config_bytes; // model_config JSON and other string attributes; default 16 MiB
    size_t max_weight_floats; // all weights together; default 256 Mi floats (1 GiB)
    size_t max_layers;        // layers over all nesting levels; default 10000
    int32_t max_depth;        // model nesting; default 8
} ft_h5_limits;

ft_h5_limits ft_h5_limits_default(void);

// Reads a Keras functional model (Keras 2 or Keras 3 layout, nested models
// included) into a new graph with its weights in one aligned block; release
// with ft_graph_free. Supported layers: InputLayer, Conv2D, DepthwiseConv2D,
// Dense, MaxPooling2D, AveragePooling2D, GlobalMax/AveragePooling2D,
// Flatten, BatchNormalization, Activation, ReLU, ZeroPadding2D, Dropout and
// nested Functional models, channels_last. Errors (messages start with the
// file name; layer problems name the layer):
//   FT_E_NOT_FOUND  no such file
//   FT_E_FORMAT     not HDF5, truncated, not a Keras model file, missing
//                   attributes/datasets, weight shapes or dtypes that do not
//                   match the configuration
//   FT_E_UNSUPPORTED a layer type or option we do not implement (Sequential,
//                   channels_first, groups > 1, ...)
//   FT_E_LIMIT, FT_E_NOMEM
ft_status ft_h5_model_load(const char *path, const ft_h5_limits *lim, ft_graph **out,
                           ft_err *err);

// The same from an in-memory file image (HDF5's core driver); `name` is
// used in messages.
ft_status ft_h5_model_parse(const char *name, const uint8_t *buf, size_t len,
                            const ft_h5_limits *lim, ft_graph **out, ft_err *err);

typedef struct ft_h5_write_opts {
    const char *keras_version; // written as the file's keras_version; default "2.15.0"
    const char *backend;       // default "tensorflow"
} ft_h5_write_opts;

ft_h5_write_opts ft_h5_write_opts_default(void);

// Writes `g` in the Keras 2 (tf.keras 2.x) h5 layout, which Keras 2 and
// Keras 3 (legacy h5 loader) both load: model_config with legacy
// inbound_nodes, weight datasets "<layer>/<var>:0" in Keras's legacy order
// (trainable weights first). The file is written to a temporary name and
// renamed, so a failure never leaves a partial file at `path`. The graph is
// checked first (ft_graph_check). `opts` may be NULL.
ft_status ft_h5_model_save(const char *path, const ft_graph *g, const ft_h5_write_opts *opts,
                           ft_err *err);

// The model_config JSON the writer would store for `g` (appended to `out`).
ft_status ft_graph_to_keras_json(const ft_graph *g, ft_buf *out, ft_err *err);

// For `facetracker model info`: loads the model at `path` and appends a JSON
// description to `out`: {"file", "keras_version", "backend", "layout": 2|3,
// "model": M} where M = {"name", "inputs": ["layer", ...], "outputs": [...],
// "layers": [{"name", "class_name", "inbound": ["layer" or "layer[i]", ...],
// "config": {...} (not for nested models), "weights": [{"name", "shape"}],
// "model": M (nested models only), "params"}], "total_params"}.
ft_status ft_h5_model_info(const char *path, ft_buf *out, ft_err *err);

#endif
