// Unit tests for src/io: decoding every format and variant from fixtures
// with known pixels (tests/data/images, made by tools/make_io_fixtures.sh
// and tools/make_io_crafted.py), EXIF orientation, the bad corpus, limits,
// encoders, crop, drawing, and the demo photos against djpeg goldens.
#include "core/buf.h"
#include "core/mem.h"
#include "core/sha256.h"
#include "ft_test.h"
#include "io/image.h"
#include "io/io_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

// ---- Helpers ----

// The canonical fixture: 48x32, four flat quadrants.
#define QW 48
#define QH 32
static const uint32_t RED = 0xFF0000, GREEN = 0x00FF00, BLUE = 0x0000FF, WHITE = 0xFFFFFF;

// Lossy codecs on flat 8x8/16x16-aligned areas stay within a few levels;
// 10 leaves room for YCbCr rounding and CMYK round trips without letting a
// wrong colour (every channel differs by 255 between quadrants) pass.
#define LOSSY_TOL 10

static const char *img_path(const char *name)
{
    static char p[1024];
    snprintf(p, sizeof p, "%s/data/images/%s", ft_test_srcdir(), name);
    return p;
}

static ft_status load(const char *name, ft_image *im, ft_err *e)
{
    memset(im, 0, sizeof *im);
    ft_err_clear(e);
    return ft_image_load(img_path(name), NULL, im, e);
}

static uint32_t px(const ft_image *im, int32_t x, int32_t y)
{
    const uint8_t *p = im->rgb + ((size_t)y * (size_t)im->w + (size_t)x) * 3;
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static int chan_diff(uint32_t a, uint32_t b)
{
    int m = 0;
    for (int s = 0; s < 24; s += 8) {
        int d = (int)((a >> s) & 255) - (int)((b >> s) & 255);
        if (d < 0)
            d = -d;
        if (d > m)
            m = d;
    }
    return m;
}

#define CHECK_PX(im, x, y, want, tol)                                                  \
    do {                                                                               \
        uint32_t got_ = px((im), (x), (y));                                            \
        if (chan_diff(got_, (want)) > (tol)) {                                         \
            fprintf(stderr, "%s:%d: pixel (%d,%d) = %06x, want %06x +- %d\n", __FILE__, \
                    __LINE__, (int)(x), (int)(y), (unsigned)got_, (unsigned)(want), (tol)); \
            ft_test_failures++;                                                        \
        }                                                                              \
    } while (0)

// Checks the four quadrant corners (4 pixels in from each edge, inside
// flat codec blocks) of a w x h image against the expected colours.
static void check_corners(const ft_image *im, int32_t w, int32_t h, uint32_t tl, uint32_t tr,
                          uint32_t bl, uint32_t br, int tol, const char *what)
{
    int before = ft_test_failures;
    FT_CHECK_EQ(im->w, w);
    FT_CHECK_EQ(im->h, h);
    if (im->w != w || im->h != h || !im->rgb) {
        fprintf(stderr, "  (%s)\n", what);
        return;
    }
    CHECK_PX(im, 4, 4, tl, tol);
    CHECK_PX(im, w - 5, 4, tr, tol);
    CHECK_PX(im, 4, h - 5, bl, tol);
    CHECK_PX(im, w - 5, h - 5, br, tol);
    if (ft_test_failures != before)
        fprintf(stderr, "  (%s)\n", what);
}

static void check_quad_file(const char *name, int tol)
{
    ft_image im;
    ft_err e;
    FT_CHECK_OK(load(name, &im, &e), &e);
    check_corners(&im, QW, QH, RED, GREEN, BLUE, WHITE, tol, name);
    ft_image_deinit(&im);
}

static uint32_t grey(uint8_t v)
{
    return (uint32_t)v << 16 | (uint32_t)v << 8 | v;
}

// ---- Sniffing, limits ----

static void test_sniff(void)
{
    FT_CHECK_EQ(ft_image_sniff((const uint8_t *)"\xff\xd8\xff\xe0", 4), FT_IMG_JPEG);
    FT_CHECK_EQ(ft_image_sniff((const uint8_t *)"\x89PNG\r\n\x1a\n", 8), FT_IMG_PNG);
    FT_CHECK_EQ(ft_image_sniff((const uint8_t *)"RIFF\0\0\0\0WEBPVP8 ", 16), FT_IMG_WEBP);
    FT_CHECK_EQ(ft_image_sniff((const uint8_t *)"\0\0\0\x18" "ftypheic\0\0\0\0mif1", 20),
                FT_IMG_HEIC);
    FT_CHECK_EQ(ft_image_sniff((const uint8_t *)"\0\0\0\x18" "ftypavif\0\0\0\0mif1", 20),
                FT_IMG_UNKNOWN);
    FT_CHECK_EQ(ft_image_sniff((const uint8_t *)"P6\n1 1\n255\n", 11), FT_IMG_PPM);
    FT_CHECK_EQ(ft_image_sniff((const uint8_t *)"P5 1 1 255 ", 11), FT_IMG_PPM);
    FT_CHECK_EQ(ft_image_sniff((const uint8_t *)"P3\n", 3), FT_IMG_UNKNOWN);
    FT_CHECK_EQ(ft_image_sniff((const uint8_t *)"\xff\xd8", 2), FT_IMG_UNKNOWN);
    FT_CHECK_EQ(ft_image_sniff(NULL, 0), FT_IMG_UNKNOWN);
    FT_CHECK_STREQ(ft_image_format_name(FT_IMG_HEIC), "HEIC");
    FT_CHECK_STREQ(ft_image_format_name(FT_IMG_UNKNOWN), "unknown");
    ft_image_limits l = ft_image_limits_default();
    FT_CHECK_EQ(l.max_pixels, 50000000);
    FT_CHECK_EQ(l.max_bytes, 256u << 20);
}

// ---- JPEG ----

static void test_jpeg_rgb(void)
{
    check_quad_file("quad.jpg", LOSSY_TOL);
    check_quad_file("quad_progressive.jpg", LOSSY_TOL);
}

static void test_jpeg_grey(void)
{
    // The same pattern as grey, checked against the PGM ImageMagick wrote.
    ft_image g, ref;
    ft_err e;
    FT_CHECK_OK(load("quad_grey.pgm", &ref, &e), &e);
    FT_CHECK_OK(load("quad_grey.jpg", &g, &e), &e);
    if (ref.rgb && g.rgb) {
        check_corners(&g, QW, QH, px(&ref, 4, 4), px(&ref, QW - 5, 4), px(&ref, 4, QH - 5),
                      px(&ref, QW - 5, QH - 5), LOSSY_TOL, "quad_grey.jpg");
        uint32_t v = px(&g, 4, 4);
        FT_CHECK_EQ(v >> 16, v & 255); // R == B: grey expanded
    }
    ft_image_deinit(&g);
    ft_image_deinit(&ref);
}

static void test_jpeg_cmyk(void)
{
    // ImageMagick writes Adobe-inverted CMYK with an APP14 marker.
    check_quad_file("quad_cmyk.jpg", LOSSY_TOL);
}

static void test_jpeg_exif(void)
{
    // orient_N.jpg stores the pattern transformed by the inverse of N, so
    // each must come out as the canonical 48x32 pattern (the generator
    // checked that with ImageMagick's -auto-orient).
    for (int n = 1; n <= 8; n++) {
        char name[32];
        snprintf(name, sizeof name, "orient_%d.jpg", n);
        check_quad_file(name, LOSSY_TOL);
    }
    // An IFD0 offset pointing past the end: orientation ignored, the stored
    // 32x48 (pattern turned 90 degrees anticlockwise) comes out as is.
    ft_image im;
    ft_err e;
    FT_CHECK_OK(load("exif_bad_offset.jpg", &im, &e), &e);
    check_corners(&im, QH, QW, GREEN, WHITE, RED, BLUE, LOSSY_TOL, "exif_bad_offset.jpg");
    ft_image_deinit(&im);
}

// ---- EXIF parser on crafted TIFF bytes ----

static size_t tiff(uint8_t *b, bool le, uint16_t n_entries, uint16_t tag, uint16_t type,
                   uint32_t count, uint32_t value)
{
    size_t o = 0;
#define P16(v) (le ? (b[o] = (uint8_t)(v), b[o + 1] = (uint8_t)((v) >> 8)) \
                   : (b[o] = (uint8_t)((v) >> 8), b[o + 1] = (uint8_t)(v)), o += 2)
#define P32(v) (le ? (P16((v) & 0xFFFF), P16((v) >> 16)) : (P16((v) >> 16), P16((v) & 0xFFFF)))
    b[o++] = le ? 'I' : 'M';
    b[o++] = le ? 'I' : 'M';
    P16(42);
    P32(8u);
    P16(n_entries);
    for (uint16_t i = 0; i + 1 < n_entries; i++) { // filler entries first
        P16(0x010F);
        P16(2);
        P32(4u);
        P32(0u);
    }
    P16(tag);
    P16(type);
    P32(count);
    if (type == 3) {
        P16(value);
        P16(0);
    } else {
        P32(value);
    }
    P32(0u);
#undef P16
#undef P32
    return o;
}

static void test_exif_parse(void)
{
    uint8_t b[256];
    size_t n;
    for (int le = 0; le <= 1; le++) {
        for (uint32_t v = 1; v <= 8; v++) {
            n = tiff(b, le, 3, 0x0112, 3, 1, v);
            FT_CHECK_EQ(ft_io__exif_orientation(b, n), v);
        }
        n = tiff(b, le, 1, 0x0112, 4, 1, 6); // LONG, tolerated
        FT_CHECK_EQ(ft_io__exif_orientation(b, n), 6);
        n = tiff(b, le, 1, 0x0112, 3, 1, 9); // out of range
        FT_CHECK_EQ(ft_io__exif_orientation(b, n), 0);
        n = tiff(b, le, 1, 0x0112, 3, 0, 6); // zero count
        FT_CHECK_EQ(ft_io__exif_orientation(b, n), 0);
        n = tiff(b, le, 1, 0x0112, 2, 1, 6); // ASCII type
        FT_CHECK_EQ(ft_io__exif_orientation(b, n), 0);
        n = tiff(b, le, 1, 0x0110, 3, 1, 6); // another tag
        FT_CHECK_EQ(ft_io__exif_orientation(b, n), 0);
        // Truncations: every prefix must be safe; only the full entry counts.
        n = tiff(b, le, 2, 0x0112, 3, 1, 3);
        for (size_t cut = 0; cut < n; cut++)
            FT_CHECK_EQ(ft_io__exif_orientation(b, cut), cut >= 8 + 2 + 24 ? 3 : 0);
        // An entry count far beyond the data.
        n = tiff(b, le, 1, 0x0112, 3, 1, 5);
        b[8] = b[9] = 0xFF;
        FT_CHECK_EQ(ft_io__exif_orientation(b, n), 5);
    }
    // IFD offset out of range, wrong magic, "Exif\0\0" prefix handling.
    n = tiff(b, true, 1, 0x0112, 3, 1, 6);
    b[4] = 0xF0;
    b[7] = 0xFF;
    FT_CHECK_EQ(ft_io__exif_orientation(b, n), 0);
    n = tiff(b, true, 1, 0x0112, 3, 1, 6);
    b[2] = 43;
    FT_CHECK_EQ(ft_io__exif_orientation(b, n), 0);
    uint8_t c[300];
    memcpy(c, "Exif\0\0", 6);
    n = tiff(c + 6, false, 1, 0x0112, 3, 1, 8);
    FT_CHECK_EQ(ft_io__exif_orientation_any(c, n + 6), 8);
    FT_CHECK_EQ(ft_io__exif_orientation_any(c + 6, n), 8);
    FT_CHECK_EQ(ft_io__exif_orientation(NULL, 0), 0);
}

static void test_orient(void)
{
    // A 3x2 image with distinct pixels, through all 8 orientations,
    // against the EXIF 2.32 definitions written out by hand.
    //   stored:  a b c
    //            d e f
    static const char *want[9] = {
        NULL,
        "abc/def", // 1
        "cba/fed", // 2 mirror horizontal
        "fed/cba", // 3 rotate 180
        "def/abc", // 4 mirror vertical
        "ad/be/cf", // 5 transpose
        "da/eb/fc", // 6 rotate 90 cw
        "fc/eb/da", // 7 transverse
        "cf/be/ad", // 8 rotate 90 ccw
    };
    for (int o = 1; o <= 8; o++) {
        ft_image im;
        ft_err e;
        FT_CHECK_OK(ft_image_new(3, 2, &im), NULL);
        for (int i = 0; i < 6; i++)
            im.rgb[i * 3] = (uint8_t)('a' + i);
        FT_CHECK_OK(ft_io__orient(&im, o, &e), &e);
        char got[16];
        size_t k = 0;
        for (int y = 0; y < im.h; y++) {
            if (y)
                got[k++] = '/';
            for (int x = 0; x < im.w; x++)
                got[k++] = (char)im.rgb[((size_t)y * (size_t)im.w + (size_t)x) * 3];
        }
        got[k] = '\0';
        FT_CHECK_STREQ(got, want[o]);
        ft_image_deinit(&im);
    }
}

// ---- PNG ----

static void test_png_variants(void)
{
    check_quad_file("quad_rgb.png", 0);
    check_quad_file("quad_rgba.png", 0);       // alpha 50%: dropped, not composited
    check_quad_file("quad_16.png", 0);         // 16-bit reduced to 8
    check_quad_file("quad_palette.png", 0);    // white is the tRNS entry: stays white
    check_quad_file("quad_interlaced.png", 0); // Adam7
    check_quad_file("orient_6.png", 0);        // eXIf orientation 6
    ft_image ref, g;
    ft_err e;
    FT_CHECK_OK(load("quad_grey.pgm", &ref, &e), &e);
    const char *greys[] = {"quad_grey.png", "quad_greya.png"};
    for (int i = 0; i < 2; i++) {
        FT_CHECK_OK(load(greys[i], &g, &e), &e);
        if (g.rgb && ref.rgb) {
            FT_CHECK_EQ(g.w, ref.w);
            FT_CHECK_EQ(g.h, ref.h);
            FT_CHECK(memcmp(g.rgb, ref.rgb, (size_t)QW * QH * 3) == 0);
        }
        ft_image_deinit(&g);
    }
    ft_image_deinit(&ref);
}

// ---- WebP, HEIC, PPM ----

static void test_webp(void)
{
    check_quad_file("quad_lossless.webp", 0);
    check_quad_file("quad_lossy.webp", LOSSY_TOL);
    check_quad_file("quad_alpha.webp", LOSSY_TOL); // alpha dropped
}

static void test_heic(void)
{
    check_quad_file("quad.heic", LOSSY_TOL);
    // An irot property (270 degrees anticlockwise) on the 128x64 pattern
    // stored turned 90 anticlockwise: libheif must apply it.
    ft_image im;
    ft_err e;
    FT_CHECK_OK(load("orient_irot.heic", &im, &e), &e);
    check_corners(&im, 128, 64, RED, GREEN, BLUE, WHITE, LOSSY_TOL, "orient_irot.heic");
    ft_image_deinit(&im);
    // EXIF orientation 6 but no irot: in HEIF the EXIF orientation is not
    // to be applied, so the stored 32x48 image (pattern turned 90
    // anticlockwise) comes out unrotated.
    FT_CHECK_OK(load("orient_6.heic", &im, &e), &e);
    check_corners(&im, QH, QW, GREEN, WHITE, RED, BLUE, LOSSY_TOL, "orient_6.heic");
    ft_image_deinit(&im);
}

static void test_ppm(void)
{
    check_quad_file("quad.ppm", 0);
    ft_image im;
    ft_err e;
    // maxval 15 and a comment; P5 with 16-bit samples.
    const char *p6 = "P6 # c\n2 1 15\n\x0f\x00\x00\x00\x07\x0f";
    FT_CHECK_OK(ft_image_decode((const uint8_t *)p6, 19 + 6, NULL, &im, &e), &e);
    if (im.rgb) {
        FT_CHECK_EQ(px(&im, 0, 0), 0xFF0000);
        FT_CHECK_EQ(px(&im, 1, 0), 0x0077FF); // 7/15*255 = 119 = 0x77
    }
    ft_image_deinit(&im);
    const uint8_t p5[] = "P5\n1 2\n65535\n\xff\xff\x80\x00";
    FT_CHECK_OK(ft_image_decode(p5, sizeof p5 - 1, NULL, &im, &e), &e);
    if (im.rgb) {
        FT_CHECK_EQ(px(&im, 0, 0), 0xFFFFFF);
        FT_CHECK_EQ(px(&im, 0, 1), grey(128));
    }
    ft_image_deinit(&im);
}

// ---- Bad inputs ----

static void test_bad_corpus(void)
{
    static const struct {
        const char *name;
        ft_status code;
        const char *msg; // a substring the message must contain
    } cases[] = {
        {"empty.jpg", FT_E_FORMAT, "empty"},
        {"random.bin", FT_E_UNSUPPORTED, "not a JPEG, PNG"},
        {"text.jpg", FT_E_UNSUPPORTED, "not a JPEG, PNG"},
        {"tiny.gif", FT_E_UNSUPPORTED, "GIF"},
        {"truncated.jpg", FT_E_FORMAT, "truncated JPEG"},
        {"truncated_progressive.jpg", FT_E_FORMAT, "truncated JPEG"},
        {"truncated.png", FT_E_FORMAT, "PNG"},
        {"truncated.webp", FT_E_FORMAT, "truncated WebP"},
        {"truncated.heic", FT_E_FORMAT, "HEIC"},
        {"truncated.ppm", FT_E_FORMAT, "truncated PPM"},
        {"huge.png", FT_E_LIMIT, "100000x100000 = 10000 Mpx, over the limit of 50 Mpx"},
        {"huge.jpg", FT_E_LIMIT, "65000x65000"},
        {"huge_65535.jpg", FT_E_LIMIT, "65500"},
        {"huge.webp", FT_E_LIMIT, "16384x16384"},
        {"huge.ppm", FT_E_LIMIT, "100000x100000"},
        {"bad_huffman.jpg", FT_E_FORMAT, "Huffman"},
        {"bad_crc.png", FT_E_FORMAT, "CRC"},
        {"zero_width.png", FT_E_FORMAT, "PNG"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[128];
        snprintf(name, sizeof name, "bad/%s", cases[i].name);
        ft_image im = {7, 7, (uint8_t *)"untouched"};
        ft_err e;
        ft_err_clear(&e);
        ft_status st = ft_image_load(img_path(name), NULL, &im, &e);
        if (st != cases[i].code || !strstr(e.msg, cases[i].msg) || !strstr(e.msg, cases[i].name)) {
            fprintf(stderr, "%s: got %s \"%s\", want %s containing \"%s\"\n", cases[i].name,
                    ft_status_name(st), e.msg, ft_status_name(cases[i].code), cases[i].msg);
            ft_test_failures++;
        }
        FT_CHECK_EQ(e.code, st);
        // *out is written only on success.
        FT_CHECK(im.w == 7 && im.h == 7 && strcmp((const char *)im.rgb, "untouched") == 0);
    }
}

static void test_limits(void)
{
    ft_buf b;
    ft_err e;
    ft_image im;
    FT_CHECK_OK(ft_file_read(img_path("quad_rgb.png"), 0, &b, &e), &e);
    ft_image_limits l = ft_image_limits_default();
    l.max_pixels = QW * QH - 1;
    FT_CHECK_EQ(ft_image_decode(b.data, b.len, &l, &im, &e), FT_E_LIMIT);
    FT_CHECK(strstr(e.msg, "48x32") != NULL);
    l.max_pixels = QW * QH;
    FT_CHECK_OK(ft_image_decode(b.data, b.len, &l, &im, &e), &e);
    ft_image_deinit(&im);
    l.max_bytes = b.len - 1;
    FT_CHECK_EQ(ft_image_decode(b.data, b.len, &l, &im, &e), FT_E_LIMIT);
    FT_CHECK_EQ(ft_image_load(img_path("quad_rgb.png"), &l, &im, &e), FT_E_LIMIT);
    ft_buf_deinit(&b);
    // The same pixel limit for each format's header.
    const char *files[] = {"quad.jpg", "quad_lossy.webp", "quad.heic", "quad.ppm"};
    l = ft_image_limits_default();
    l.max_pixels = 100;
    for (size_t i = 0; i < 4; i++)
        FT_CHECK_EQ(ft_image_load(img_path(files[i]), &l, &im, &e), FT_E_LIMIT);
    FT_CHECK_EQ(ft_image_load(img_path("no-such-file.png"), NULL, &im, &e), FT_E_NOT_FOUND);
}

static void test_stdin(void)
{
    // "-" reads stdin; messages say "stdin".
    ft_image im;
    ft_err e;
    FILE *f = freopen(img_path("quad.jpg"), "rb", stdin);
    FT_CHECK(f != NULL);
    FT_CHECK_OK(ft_image_load("-", NULL, &im, &e), &e);
    check_corners(&im, QW, QH, RED, GREEN, BLUE, WHITE, LOSSY_TOL, "stdin");
    ft_image_deinit(&im);
    f = freopen(img_path("bad/text.jpg"), "rb", stdin);
    FT_CHECK(f != NULL);
    FT_CHECK_EQ(ft_image_load("-", NULL, &im, &e), FT_E_UNSUPPORTED);
    FT_CHECK(strncmp(e.msg, "stdin: ", 7) == 0);
}

// Every allocation failure on the decode path gives FT_E_NOMEM, nothing
// leaks (ASan), and the decode eventually succeeds.
static void test_oom(void)
{
    const char *files[] = {"orient_6.jpg", "quad_cmyk.jpg", "orient_6.png", "quad.ppm",
                           "quad_lossy.webp", "quad.heic"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        ft_buf b;
        ft_err e;
        FT_CHECK_OK(ft_file_read(img_path(files[f]), 0, &b, &e), &e);
        bool ok = false;
        for (long n = 0; n < 50 && !ok; n++) {
            ft_image im;
            ft_mem_fail_after(n);
            ft_status st = ft_image_decode(b.data, b.len, NULL, &im, &e);
            ft_mem_fail_after(-1);
            if (st == FT_OK) {
                ok = true;
                ft_image_deinit(&im);
            } else if (st != FT_E_NOMEM) {
                fprintf(stderr, "%s: failing allocation %ld gave %s\n", files[f], n,
                        ft_status_name(st));
                ft_test_failures++;
                break;
            }
        }
        FT_CHECK(ok);
        ft_buf_deinit(&b);
    }
}

// ---- Demo photos against djpeg ----

static void test_sample_photos(void)
{
    // The golden holds djpeg's 8x8 grid of block means per channel (see
    // tests/golden/README-io.md). Our YCbCr conversion follows jpeg-js and
    // truncates where libjpeg rounds, so single values differ by up to 3
    // levels; block means must agree within one level.
    char path[1024];
    static char line[16384];
    snprintf(path, sizeof path, "%s/golden/io_decode_blocks.txt", ft_test_srcdir());
    FILE *g = fopen(path, "r");
    FT_CHECK(g != NULL);
    if (!g)
        return;
    FT_CHECK(fgets(line, sizeof line, g) && strncmp(line, "# ft-golden io-decode-blocks v2", 31) == 0);
    int n = 0;
    while (fgets(line, sizeof line, g)) {
        char name[128];
        int w, h, off = 0;
        if (line[0] == '#' || sscanf(line, "%127s %d %d%n", name, &w, &h, &off) != 3)
            continue;
        snprintf(path, sizeof path, "%s/demo/%s", ft_test_assets(), name);
        if (access(path, R_OK) != 0) {
            fprintf(stderr, "skipping %s: not fetched (tools/setup.sh)\n", path);
            continue;
        }
        ft_image im;
        ft_err e;
        FT_CHECK_OK(ft_image_load(path, NULL, &im, &e), &e);
        FT_CHECK_EQ(im.w, w);
        FT_CHECK_EQ(im.h, h);
        if (im.rgb && im.w == w && im.h == h) {
            const char *p = line + off;
            double worst = 0;
            for (int by = 0; by < 8; by++)
                for (int bx = 0; bx < 8; bx++) {
                    int y0 = by * h / 8, y1 = (by + 1) * h / 8, x0 = bx * w / 8, x1 = (bx + 1) * w / 8;
                    for (int c = 0; c < 3; c++) {
                        char *end;
                        double want = strtod(p, &end);
                        FT_CHECK(end != p);
                        p = end;
                        double sum = 0;
                        for (int y = y0; y < y1; y++)
                            for (int x = x0; x < x1; x++)
                                sum += im.rgb[((size_t)y * w + x) * 3 + c];
                        double got = sum / ((double)(y1 - y0) * (x1 - x0));
                        if (fabs(got - want) > worst)
                            worst = fabs(got - want);
                    }
                }
            if (worst > 1.0) {
                fprintf(stderr, "%s: a block mean differs from djpeg's by %.3f levels\n", name, worst);
                ft_test_failures++;
            }
        }
        ft_image_deinit(&im);
        n++;
    }
    fclose(g);
    FT_CHECK(n >= 6);
}

// ---- Encoders ----

static void test_encode_roundtrip(void)
{
    ft_image src, dec;
    ft_err e;
    FT_CHECK_OK(load("quad.ppm", &src, &e), &e);
    if (!src.rgb)
        return;
    ft_buf b;
    // PNG and PPM are lossless: byte-identical pixels.
    ft_status (*lossless[])(const ft_image *, ft_buf *, ft_err *) = {ft_image_encode_png,
                                                                      ft_image_encode_ppm};
    ft_image_format fmts[] = {FT_IMG_PNG, FT_IMG_PPM};
    for (int i = 0; i < 2; i++) {
        ft_buf_init(&b, 0);
        FT_CHECK_OK(lossless[i](&src, &b, &e), &e);
        FT_CHECK_EQ(ft_image_sniff(b.data, b.len), fmts[i]);
        FT_CHECK_OK(ft_image_decode(b.data, b.len, NULL, &dec, &e), &e);
        FT_CHECK(dec.rgb && dec.w == QW && dec.h == QH &&
                 memcmp(dec.rgb, src.rgb, (size_t)QW * QH * 3) == 0);
        ft_image_deinit(&dec);
        ft_buf_deinit(&b);
    }
    ft_buf_init(&b, 0);
    FT_CHECK_OK(ft_image_encode_jpeg(&src, 95, &b, &e), &e);
    FT_CHECK_EQ(ft_image_sniff(b.data, b.len), FT_IMG_JPEG);
    FT_CHECK_OK(ft_image_decode(b.data, b.len, NULL, &dec, &e), &e);
    check_corners(&dec, QW, QH, RED, GREEN, BLUE, WHITE, LOSSY_TOL, "jpeg roundtrip");
    ft_image_deinit(&dec);
    ft_buf_deinit(&b);
    ft_buf_init(&b, 0);
    FT_CHECK_EQ(ft_image_encode_jpeg(&src, 0, &b, &e), FT_E_INVALID);
    FT_CHECK_EQ(ft_image_encode_jpeg(&src, 101, &b, &e), FT_E_INVALID);
    // A byte limit on the output buffer is reported, not ignored.
    ft_buf_deinit(&b);
    ft_buf_init(&b, 100);
    FT_CHECK_EQ(ft_image_encode_png(&src, &b, &e), FT_E_LIMIT);
    FT_CHECK_EQ(ft_image_encode_ppm(&src, &b, &e), FT_E_LIMIT);
    ft_buf_deinit(&b);

    // ft_image_save by extension.
    char dir[] = "/tmp/ft_test_io_XXXXXX";
    FT_CHECK(mkdtemp(dir) != NULL);
    const char *exts[] = {"a.png", "b.JPG", "c.jpeg", "d.ppm"};
    for (int i = 0; i < 4; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s", dir, exts[i]);
        FT_CHECK_OK(ft_image_save(&src, p, &e), &e);
        FT_CHECK_OK(ft_image_load(p, NULL, &dec, &e), &e);
        check_corners(&dec, QW, QH, RED, GREEN, BLUE, WHITE, LOSSY_TOL, exts[i]);
        ft_image_deinit(&dec);
        unlink(p);
    }
    char p[256];
    snprintf(p, sizeof p, "%s/x.gif", dir);
    FT_CHECK_EQ(ft_image_save(&src, p, &e), FT_E_UNSUPPORTED);
    snprintf(p, sizeof p, "%s/noext", dir);
    FT_CHECK_EQ(ft_image_save(&src, p, &e), FT_E_INVALID);
    rmdir(dir);
    ft_image_deinit(&src);
}

// ---- Image basics ----

static void test_crop(void)
{
    ft_image src, c;
    ft_err e;
    FT_CHECK_OK(load("quad.ppm", &src, &e), &e);
    if (!src.rgb)
        return;
    FT_CHECK_OK(ft_image_crop(&src, 20, 10, 10, 10, &c), NULL);
    FT_CHECK_EQ(c.w, 10);
    FT_CHECK_EQ(c.h, 10);
    FT_CHECK_EQ(px(&c, 0, 0), RED);
    FT_CHECK_EQ(px(&c, 9, 0), GREEN);
    FT_CHECK_EQ(px(&c, 0, 9), BLUE);
    FT_CHECK_EQ(px(&c, 9, 9), WHITE);
    ft_image_deinit(&c);
    // Clipped on every side.
    FT_CHECK_OK(ft_image_crop(&src, -10, -5, 1000, 1000, &c), NULL);
    FT_CHECK(c.w == QW && c.h == QH && memcmp(c.rgb, src.rgb, (size_t)QW * QH * 3) == 0);
    ft_image_deinit(&c);
    FT_CHECK_OK(ft_image_crop(&src, 40, 30, 100, 100, &c), NULL);
    FT_CHECK(c.w == 8 && c.h == 2 && px(&c, 7, 1) == WHITE);
    ft_image_deinit(&c);
    FT_CHECK_OK(ft_image_crop(&src, INT32_MAX - 1, 0, INT32_MAX, 1, &c) == FT_E_INVALID
                    ? FT_OK
                    : FT_E_INTERNAL,
                NULL);
    FT_CHECK_EQ(ft_image_crop(&src, 48, 0, 5, 5, &c), FT_E_INVALID);
    FT_CHECK_EQ(ft_image_crop(&src, -5, 0, 5, 5, &c), FT_E_INVALID);
    FT_CHECK_EQ(ft_image_crop(&src, 0, 0, 0, 5, &c), FT_E_INVALID);
    FT_CHECK_EQ(ft_image_crop(&src, INT32_MIN, INT32_MIN, INT32_MAX, INT32_MAX, &c), FT_E_INVALID);
    // Copy.
    FT_CHECK_OK(ft_image_copy(&src, &c), NULL);
    FT_CHECK(c.rgb != src.rgb && memcmp(c.rgb, src.rgb, (size_t)QW * QH * 3) == 0);
    ft_image_deinit(&c);
    ft_image_deinit(&c); // deinit twice is harmless
    ft_image_deinit(NULL);
    FT_CHECK_EQ(ft_image_new(0, 5, &c), FT_E_INVALID);
    FT_CHECK_OK(ft_image_new(2, 2, &c), NULL);
    FT_CHECK(c.rgb[0] == 0 && c.rgb[11] == 0);
    ft_image_deinit(&c);
    ft_image_deinit(&src);
}

// ---- Drawing ----

static int count_colour(const ft_image *im, uint32_t rgb)
{
    int n = 0;
    for (int32_t y = 0; y < im->h; y++)
        for (int32_t x = 0; x < im->w; x++)
            n += px(im, x, y) == rgb;
    return n;
}

static void test_draw(void)
{
    ft_image im;
    FT_CHECK_OK(ft_image_new(20, 10, &im), NULL);
    // A 1-pixel outline of 5x4 at (2,3): perimeter 2*(5+4)-4 = 14 pixels.
    ft_draw_rect(&im, 2, 3, 5, 4, 0x112233, 1);
    FT_CHECK_EQ(count_colour(&im, 0x112233), 14);
    FT_CHECK_EQ(px(&im, 2, 3), 0x112233);
    FT_CHECK_EQ(px(&im, 6, 6), 0x112233);
    FT_CHECK_EQ(px(&im, 3, 4), 0); // inside stays
    FT_CHECK_EQ(px(&im, 7, 3), 0); // just outside
    // Thickness 2 on 8x8 (at 10,1; clipped at the bottom edge: rows 1..8).
    memset(im.rgb, 0, 20 * 10 * 3);
    ft_draw_rect(&im, 10, 1, 8, 8, 0xABCDEF, 2);
    FT_CHECK_EQ(count_colour(&im, 0xABCDEF), 64 - 16);
    FT_CHECK_EQ(px(&im, 12, 3), 0);
    FT_CHECK_EQ(px(&im, 11, 3), 0xABCDEF);
    // Clipping: a rect mostly outside, huge coordinates, no crash.
    memset(im.rgb, 0, 20 * 10 * 3);
    ft_draw_rect(&im, -5, -5, 10, 10, 0xFF0000, 1);
    FT_CHECK_EQ(count_colour(&im, 0xFF0000), 5 + 4); // right column x=4 and bottom row y=4
    ft_draw_rect(&im, INT32_MAX - 2, INT32_MAX - 2, INT32_MAX, INT32_MAX, 0xFF, 3);
    ft_draw_fill(&im, INT32_MIN, INT32_MIN, INT32_MAX, INT32_MAX, 0xFF);
    ft_draw_rect(&im, 0, 0, 0, 5, 0xFF, 1);
    FT_CHECK_EQ(count_colour(&im, 0xFF), 0);
    // Fill.
    ft_draw_fill(&im, 18, 8, 5, 5, 0x00FF00);
    FT_CHECK_EQ(count_colour(&im, 0x00FF00), 4);
    // Points: radius 0 = 1 pixel; radius 1 = a plus-shaped 3x3 disc.
    memset(im.rgb, 0, 20 * 10 * 3);
    ft_draw_point(&im, 5, 5, 0, 0x0000FF);
    FT_CHECK_EQ(count_colour(&im, 0x0000FF), 1);
    ft_draw_point(&im, 10, 5, 1, 0x00FFFF);
    FT_CHECK_EQ(count_colour(&im, 0x00FFFF), 5);
    ft_draw_point(&im, 0, 0, 2, 0xFFFF00); // clipped corner
    FT_CHECK(count_colour(&im, 0xFFFF00) > 0);
    ft_draw_point(&im, 5, 5, INT32_MAX, 0x808080); // covers everything, quickly
    FT_CHECK_EQ(count_colour(&im, 0x808080), 200);
    ft_image_deinit(&im);
}

static void test_draw_text(void)
{
    FT_CHECK_EQ(ft_draw_text_width("", 1), 0);
    FT_CHECK_EQ(ft_draw_text_width("A", 1), 5);
    FT_CHECK_EQ(ft_draw_text_width("AB", 2), 22);
    FT_CHECK_EQ(ft_draw_text_width("AB\nABC", 1), 17);
    FT_CHECK_EQ(ft_draw_text_height(3), 24);
    ft_image im;
    FT_CHECK_OK(ft_image_new(40, 20, &im), NULL);
    // 'I' in our font: a bar on top and bottom (3 dots) and a 5-dot stem.
    FT_CHECK_EQ(ft_draw_text(&im, 1, 1, "I", 0xFFFFFF, 1), 5);
    FT_CHECK_EQ(count_colour(&im, 0xFFFFFF), 11);
    FT_CHECK_EQ(px(&im, 3, 1), 0xFFFFFF); // top bar middle (column 2)
    FT_CHECK_EQ(px(&im, 1, 1), 0);        // column 0 empty
    memset(im.rgb, 0, 40 * 20 * 3);
    ft_draw_text(&im, 0, 0, "I", 0xFFFFFF, 2); // scale 2: 4x the dots
    FT_CHECK_EQ(count_colour(&im, 0xFFFFFF), 44);
    // Every printable glyph draws something but space; non-ASCII is '?'.
    for (int c = 0x21; c < 0x7F; c++) {
        char s[2] = {(char)c, 0};
        memset(im.rgb, 0, 40 * 20 * 3);
        ft_draw_text(&im, 0, 0, s, 0xFFFFFF, 1);
        if (count_colour(&im, 0xFFFFFF) == 0) {
            fprintf(stderr, "glyph 0x%02x is empty\n", c);
            ft_test_failures++;
        }
    }
    memset(im.rgb, 0, 40 * 20 * 3);
    ft_draw_text(&im, 0, 0, "\xc3\xa9", 0xFFFFFF, 1);
    int n_q = count_colour(&im, 0xFFFFFF);
    memset(im.rgb, 0, 40 * 20 * 3);
    ft_draw_text(&im, 0, 0, "??", 0xFFFFFF, 1);
    FT_CHECK_EQ(count_colour(&im, 0xFFFFFF), n_q);
    // Clipped text, negative positions, huge scale: no crash.
    ft_draw_text(&im, -100, -3, "Hello, world!", 0xFF0000, 1);
    ft_draw_text(&im, 30, 15, "clip", 0xFF0000, 50);
    ft_draw_text(&im, INT32_MAX - 5, 0, "xyz", 0xFF0000, INT32_MAX);
    ft_draw_text(NULL, 0, 0, "x", 0, 1);
    ft_image_deinit(&im);
}

static const ft_test_case cases[] = {
    {"sniff", test_sniff},
    {"jpeg_rgb", test_jpeg_rgb},
    {"jpeg_grey", test_jpeg_grey},
    {"jpeg_cmyk", test_jpeg_cmyk},
    {"jpeg_exif", test_jpeg_exif},
    {"exif_parse", test_exif_parse},
    {"orient", test_orient},
    {"png_variants", test_png_variants},
    {"webp", test_webp},
    {"heic", test_heic},
    {"ppm", test_ppm},
    {"bad_corpus", test_bad_corpus},
    {"limits", test_limits},
    {"stdin", test_stdin},
    {"oom", test_oom},
    {"sample_photos", test_sample_photos},
    {"encode_roundtrip", test_encode_roundtrip},
    {"crop", test_crop},
    {"draw", test_draw},
    {"draw_text", test_draw_text},
};

FT_TEST_MAIN(cases)
