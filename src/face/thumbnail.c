// Face thumbnails: crop around the box, area-average downscale, JPEG.
#include "face/face_internal.h"

#include <math.h>

ft_status ft_face_thumbnail(const ft_image *im, const ft_face_box *box, int32_t max_side,
                            ft_buf *out, ft_err *err)
{
    const double grow = 0.25;
    int32_t x = (int32_t)floor(box->x - box->w * grow), y = (int32_t)floor(box->y - box->h * grow);
    int32_t w = (int32_t)ceil(box->w * (1 + 2 * grow)), h = (int32_t)ceil(box->h * (1 + 2 * grow));
    ft_image crop, small = {0, 0, NULL};
    ft_status st = ft_image_crop(im, x, y, w, h, &crop);
    if (st != FT_OK)
        return ft_err_set(err, st, "face thumbnail: the box is outside the image");
    int32_t side = crop.w > crop.h ? crop.w : crop.h;
    const ft_image *src = &crop;
    if (max_side > 0 && side > max_side) {
        int32_t nw = (int32_t)((int64_t)crop.w * max_side / side);
        int32_t nh = (int32_t)((int64_t)crop.h * max_side / side);
        nw = nw < 1 ? 1 : nw;
        nh = nh < 1 ? 1 : nh;
        st = ft_image_new(nw, nh, &small);
        if (st != FT_OK) {
            ft_image_deinit(&crop);
            return ft_err_set(err, st, "out of memory");
        }
        // Each output pixel averages its source rectangle.
        for (int32_t oy = 0; oy < nh; oy++) {
            int32_t y0 = (int32_t)((int64_t)oy * crop.h / nh);
            int32_t y1 = (int32_t)((int64_t)(oy + 1) * crop.h / nh);
            for (int32_t ox = 0; ox < nw; ox++) {
                int32_t x0 = (int32_t)((int64_t)ox * crop.w / nw);
                int32_t x1 = (int32_t)((int64_t)(ox + 1) * crop.w / nw);
                uint32_t acc[3] = {0, 0, 0}, cnt = 0;
                for (int32_t sy = y0; sy < y1; sy++)
                    for (int32_t sx = x0; sx < x1; sx++, cnt++)
                        for (int c = 0; c < 3; c++)
                            acc[c] += crop.rgb[((size_t)sy * crop.w + sx) * 3 + c];
                for (int c = 0; c < 3; c++)
                    small.rgb[((size_t)oy * nw + ox) * 3 + c] =
                        (uint8_t)((acc[c] + cnt / 2) / (cnt ? cnt : 1));
            }
        }
        src = &small;
    }
    out->len = 0;
    st = ft_image_encode_jpeg(src, 85, out, err);
    ft_image_deinit(&small);
    ft_image_deinit(&crop);
    return st;
}
