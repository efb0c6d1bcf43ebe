// libFuzzer target for labelme JSON (ft_labelme_parse, src/train/labelme.c):
// shapes, points, imagePath, base64 imageData. The whole input is the
// document; its last byte also picks options:
//   bit 0  decode the inline imageData as an image (64 Kpx limit), as the
//          import does before it trusts a photo
//   bit 1  check each box against imageWidth/imageHeight the way the
//          import's "boxes inside the photo" rule reads them
#include "io/image.h"
#include "train/dataset.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t opt = size ? data[size - 1] : 0;
    // A private copy, so ASan sees a read past the end.
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    ft_labelme_doc d;
    ft_err e;
    ft_err_clear(&e);
    ft_status st = ft_labelme_parse("fuzz.json", buf, size, &d, &e);
    if (st != FT_OK) {
        if (e.msg[0] == '\0')
            abort(); // every refusal says why
        free(buf);
        return 0;
    }
    if (!d.image_path && !d.image_data)
        abort();
    if (d.width < 0 || d.height < 0)
        abort();
    volatile size_t sink = d.image_path ? strlen(d.image_path) : 0;
    for (size_t i = 0; i < d.n_boxes; i++) {
        const ft_ds_box *b = &d.boxes[i];
        if (!b->label || !b->label[0] || !(b->x2 > b->x1) || !(b->y2 > b->y1) ||
            !isfinite(b->x1) || !isfinite(b->y2))
            abort();
        sink += strlen(b->label);
        if ((opt & 2) && d.width > 0 && d.height > 0)
            sink += b->x1 >= 0 && b->y1 >= 0 && b->x2 <= d.width && b->y2 <= d.height;
    }
    if (d.image_data_len)
        sink += d.image_data[0] + d.image_data[d.image_data_len - 1];
    if ((opt & 1) && d.image_data) {
        ft_image_limits lim = ft_image_limits_default();
        lim.max_pixels = 65536;
        ft_image im;
        if (ft_image_decode(d.image_data, d.image_data_len, &lim, &im, &e) == FT_OK)
            ft_image_deinit(&im);
    }
    (void)sink;
    ft_labelme_doc_deinit(&d);
    free(buf);
    return 0;
}
