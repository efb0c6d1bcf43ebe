// EXIF orientation: reads tag 0x0112 from IFD0 of the TIFF structure inside
// an EXIF block, and rotates/mirrors decoded pixels to match.
//
// The TIFF structure (offsets are from its first byte):
//   0  byte order: "II" (little-endian) or "MM" (big-endian)
//   2  42, in that byte order
//   4  u32 offset of IFD0
// An IFD: u16 entry count, then 12-byte entries:
//   tag u16, type u16 (3 = SHORT, 4 = LONG), count u32, value-or-offset u32
// A SHORT value with count 1 sits in the first two bytes of the value field.
#include "core/mem.h"
#include "io/io_internal.h"

#include <string.h>

// ---- EXIF parsing ----

static uint32_t rd16(const uint8_t *p, bool le)
{
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : (uint32_t)p[0] << 8 | (uint32_t)p[1];
}

static uint32_t rd32(const uint8_t *p, bool le)
{
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int ft_io__exif_orientation(const uint8_t *tiff, size_t len)
{
    bool le;
    if (!tiff || len < 8)
        return 0;
    if (tiff[0] == 'I' && tiff[1] == 'I')
        le = true;
    else if (tiff[0] == 'M' && tiff[1] == 'M')
        le = false;
    else
        return 0;
    if (rd16(tiff + 2, le) != 42)
        return 0;
    uint32_t ifd = rd32(tiff + 4, le);
    // Compare as subtraction against len so no addition can overflow.
    if (ifd < 8 || ifd > len || len - ifd < 2)
        return 0;
    uint32_t n = rd16(tiff + ifd, le);
    size_t avail = (len - ifd - 2) / 12;
    if (n > avail)
        n = (uint32_t)avail; // a truncated IFD: read the entries that are there
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = tiff + ifd + 2 + (size_t)i * 12;
        if (rd16(e, le) != 0x0112)
            continue;
        uint32_t type = rd16(e + 2, le), count = rd32(e + 4, le);
        uint32_t v;
        if (count != 1)
            return 0;
        if (type == 3)
            v = rd16(e + 8, le);
        else if (type == 4)
            v = rd32(e + 8, le);
        else
            return 0;
        return v >= 1 && v <= 8 ? (int)v : 0;
    }
    return 0;
}

int ft_io__exif_orientation_any(const uint8_t *p, size_t len)
{
    if (p && len >= 6 && memcmp(p, "Exif\0\0", 6) == 0)
        return ft_io__exif_orientation(p + 6, len - 6);
    return ft_io__exif_orientation(p, len);
}

// ---- Orientation ----

// Where output pixel (ox, oy) comes from in the stored w x h image, for
// orientations 2..8 (EXIF 2.32, table for tag 0x0112: "row 0 / column 0"
// of the stored image is at the named display edge):
//   2 mirror horizontally        3 rotate 180          4 mirror vertically
//   5 transpose                  6 rotate 90 clockwise
//   7 transverse                 8 rotate 90 counter-clockwise
static void source_of(int o, int32_t w, int32_t h, int32_t ox, int32_t oy, int32_t *sx,
                      int32_t *sy)
{
    switch (o) {
    case 2: *sx = w - 1 - ox; *sy = oy; break;
    case 3: *sx = w - 1 - ox; *sy = h - 1 - oy; break;
    case 4: *sx = ox; *sy = h - 1 - oy; break;
    case 5: *sx = oy; *sy = ox; break;
    case 6: *sx = oy; *sy = h - 1 - ox; break;
    case 7: *sx = w - 1 - oy; *sy = h - 1 - ox; break;
    case 8: *sx = w - 1 - oy; *sy = ox; break;
    default: *sx = ox; *sy = oy; break;
    }
}

ft_status ft_io__orient(ft_image *im, int orientation, ft_err *err)
{
    if (orientation < 2 || orientation > 8)
        return FT_OK;
    int32_t w = im->w, h = im->h;
    int32_t ow = orientation >= 5 ? h : w, oh = orientation >= 5 ? w : h;
    ft_image o = {0, 0, NULL};
    ft_status st = ft_io__alloc(&o, ow, oh, err);
    if (st != FT_OK)
        return st;
    for (int32_t oy = 0; oy < oh; oy++) {
        uint8_t *d = o.rgb + (size_t)oy * (size_t)ow * 3;
        for (int32_t ox = 0; ox < ow; ox++, d += 3) {
            int32_t sx, sy;
            source_of(orientation, w, h, ox, oy, &sx, &sy);
            const uint8_t *s = im->rgb + ((size_t)sy * (size_t)w + (size_t)sx) * 3;
            d[0] = s[0];
            d[1] = s[1];
            d[2] = s[2];
        }
    }
    ft_free(im->rgb);
    *im = o;
    return FT_OK;
}
