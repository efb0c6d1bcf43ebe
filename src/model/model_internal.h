// Declarations shared by the files of src/model only.
#ifndef FT_MODEL_INTERNAL_H
#define FT_MODEL_INTERNAL_H

#include "model/graph.h"
#include "model/h5.h"

// keras.c: builds a graph (no weights yet) from a Keras model_config JSON
// text. Error messages are not prefixed with the file name.
ft_status ft_model__graph_from_config(const char *json, size_t len, const ft_h5_limits *lim,
                                      ft_graph **out, ft_err *err);

// keras.c: the layer's config object as the writer stores it (new
// reference), without name/inbound_nodes; NULL on allocation failure.
struct json_t;
struct json_t *ft_model__layer_config(const ft_glayer *l);

#endif
