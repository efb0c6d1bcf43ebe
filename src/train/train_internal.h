// Declarations shared by the files of src/train only.
#ifndef FT_TRAIN_INTERNAL_H
#define FT_TRAIN_INTERNAL_H

#include "core/buf.h"
#include "train/dataset.h"

void ft_ds_sample_deinit(ft_ds_sample *s);
ft_status ft_dataset__new(const char *dir, ft_dataset **out);
ft_status ft_dataset__push(ft_dataset *ds, size_t *cap, ft_ds_sample *s);
// One JSON line for a sample (aug: normalised boxes, no split).
ft_status ft_ds__append_line(ft_buf *b, const ft_ds_sample *s, bool aug);
// mkdir -p.
ft_status ft_train__mkdirs(const char *path, ft_err *err);

#endif
