// JPEG decode and encode through the libjpeg API (libjpeg-turbo), with
// setjmp/longjmp error handling, plus the EXIF (APP1) orientation lookup.
//
// A JPEG is a series of markers: SOI (FF D8), APPn segments (APP1 holding
// "Exif\0\0" + a TIFF structure), tables, SOF (size, components), SOS and
// entropy-coded data, EOI (FF D9). libjpeg parses all of it; we keep APP1
// segments through jpeg_save_markers and parse the TIFF part in exif.c.
#include "core/mem.h"
#include "io/io_internal.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// jpeglib.h first: jerror.h's message list depends on its configuration.
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

// A progressive JPEG may hold any number of scans, and each one makes
// libjpeg walk the whole coefficient buffer: a tiny file can take minutes
// (a known decompression-time bomb). Real encoders emit about 10; the
// libjpeg-turbo fuzzers stop at 500.
#define MAX_JPEG_SCANS 500

// ---- Error handling ----

// libjpeg's default error_exit calls exit(); ours records the message and
// longjmps back to the decode/encode call, which cleans up and returns.
typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    ft_status code;
    char msg[JMSG_LENGTH_MAX + 64];
} jpeg_err;

static void classify(jpeg_err *e, int msg_code)
{
    switch (msg_code) {
    case JERR_IMAGE_TOO_BIG:
        e->code = FT_E_LIMIT;
        break;
    case JERR_OUT_OF_MEMORY:
        e->code = FT_E_NOMEM;
        break;
    case JERR_BAD_PRECISION:
    case JERR_CONVERSION_NOTIMPL:
    case JERR_NOT_COMPILED:
        e->code = FT_E_UNSUPPORTED;
        break;
    default:
        e->code = FT_E_FORMAT;
        break;
    }
}

static void on_error_exit(j_common_ptr c)
{
    jpeg_err *e = (jpeg_err *)c->err;
    char lib[JMSG_LENGTH_MAX];
    c->err->format_message(c, lib);
    classify(e, c->err->msg_code);
    if (c->err->msg_code == JERR_INPUT_EMPTY || c->err->msg_code == JERR_INPUT_EOF)
        snprintf(e->msg, sizeof e->msg, "truncated JPEG data (libjpeg: %s)", lib);
    else
        snprintf(e->msg, sizeof e->msg, "JPEG: %s", lib);
    longjmp(e->jb, 1);
}

// Warnings about damaged entropy-coded data are errors here: libjpeg
// would otherwise pad the rest of the image with grey and report success.
static bool warning_is_fatal(int code)
{
    switch (code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
#if JPEG_LIB_VERSION >= 70 || defined(D_ARITH_CODING_SUPPORTED)
    case JWRN_ARITH_BAD_CODE: // declared by jerror.h only in these builds
#endif
    case JWRN_MUST_RESYNC:
        return true;
    default:
        return false;
    }
}

static void on_emit_message(j_common_ptr c, int level)
{
    jpeg_err *e = (jpeg_err *)c->err;
    if (level >= 0)
        return; // trace messages
    int code = c->err->msg_code;
    c->err->num_warnings++;
    if (!warning_is_fatal(code))
        return;
    char lib[JMSG_LENGTH_MAX];
    c->err->format_message(c, lib);
    e->code = FT_E_FORMAT;
    if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER)
        snprintf(e->msg, sizeof e->msg, "truncated JPEG data (libjpeg: %s)", lib);
    else
        snprintf(e->msg, sizeof e->msg, "corrupt JPEG data (libjpeg: %s)", lib);
    longjmp(e->jb, 1);
}

static void on_progress(j_common_ptr c)
{
    if (!c->is_decompressor)
        return;
    j_decompress_ptr d = (j_decompress_ptr)c;
    if (d->input_scan_number > MAX_JPEG_SCANS) {
        jpeg_err *e = (jpeg_err *)c->err;
        e->code = FT_E_LIMIT;
        snprintf(e->msg, sizeof e->msg, "JPEG has more than %d scans", MAX_JPEG_SCANS);
        longjmp(e->jb, 1);
    }
}

static void init_err(jpeg_err *e)
{
    jpeg_std_error(&e->pub);
    e->pub.error_exit = on_error_exit;
    e->pub.emit_message = on_emit_message;
    e->code = FT_E_INTERNAL;
    e->msg[0] = '\0';
}

// ---- Decoding ----

static int find_orientation(j_decompress_ptr d)
{
    for (jpeg_saved_marker_ptr m = d->marker_list; m; m = m->next) {
        if (m->marker != JPEG_APP0 + 1 || m->data_length < 6 || memcmp(m->data, "Exif\0\0", 6) != 0)
            continue;
        return ft_io__exif_orientation(m->data + 6, m->data_length - 6);
    }
    return 0;
}

// CMYK to RGB. Adobe's encoders (Photoshop) store inverted inks (255 = no
// ink) and mark the file with an APP14 "Adobe" segment; libjpeg hands the
// stored values back untouched. Without that marker the values are taken
// as plain inks.
static void cmyk_row(const uint8_t *src, uint8_t *dst, size_t w, bool inverted)
{
    for (size_t x = 0; x < w; x++, src += 4, dst += 3) {
        unsigned c = src[0], m = src[1], y = src[2], k = src[3];
        if (!inverted) {
            c = 255 - c;
            m = 255 - m;
            y = 255 - y;
            k = 255 - k;
        }
        dst[0] = (uint8_t)((c * k + 127) / 255);
        dst[1] = (uint8_t)((m * k + 127) / 255);
        dst[2] = (uint8_t)((y * k + 127) / 255);
    }
}

// YCbCr to RGB with the formula jpeg-js (face-api's decoder) uses, in
// double and truncated to 8 bits: libjpeg's fixed-point tables round
// differently, and on the demo photos that alone moves 43 % of the values
// by 1-3 levels and some detection scores by 0.01. With this conversion
// under 6 % still differ (by the IDCT's rounding).
static void ycc_row(uint8_t *p, size_t w)
{
    for (size_t x = 0; x < w; x++, p += 3) {
        double y = p[0], cb = p[1] - 128.0, cr = p[2] - 128.0;
        double v[3] = {y + 1.402 * cr, y - 0.3441363 * cb - 0.71413636 * cr, y + 1.772 * cb};
        for (int c = 0; c < 3; c++)
            p[c] = (uint8_t)(v[c] < 0 ? 0 : v[c] > 255 ? 255 : v[c]);
    }
}

ft_status ft_io__decode_jpeg(const uint8_t *buf, size_t len, const ft_image_limits *lim,
                             ft_image *out, ft_err *err)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr prog;
    jpeg_err je;
    // Changed after setjmp and read after longjmp: volatile.
    uint8_t *volatile pix = NULL;
    uint8_t *volatile row4 = NULL;
    volatile ft_status st = FT_OK;
    int orientation = 0;
    ft_image im = {0, 0, NULL};

    memset(&cinfo, 0, sizeof cinfo);
    init_err(&je);
    cinfo.err = &je.pub;
    if (setjmp(je.jb)) {
        st = ft_err_set(err, je.code, "%s", je.msg);
        goto done;
    }
    jpeg_create_decompress(&cinfo);
    prog.progress_monitor = on_progress;
    cinfo.progress = &prog;
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);

    st = ft_io__check_dims("JPEG", cinfo.image_width, cinfo.image_height, lim, err);
    if (st != FT_OK)
        goto done;
    orientation = find_orientation(&cinfo);

    bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    bool inverted = cinfo.saw_Adobe_marker;
    bool ycc = cinfo.jpeg_color_space == JCS_YCbCr && cinfo.num_components == 3;
    // libjpeg expands grey to RGB and converts YCCK to CMYK itself; YCbCr
    // is converted below (ycc_row).
    cinfo.out_color_space = cmyk ? JCS_CMYK : ycc ? JCS_YCbCr : JCS_RGB;
    // Our reference, face-api.js, decodes through jpeg-js, which replicates
    // chroma samples instead of interpolating them ("fancy" upsampling, on
    // by default in libjpeg). Matching it keeps our pixels within about 3
    // levels of the reference, so detections and descriptors agree with its
    // goldens. The slow-but-exact integer IDCT is libjpeg's default; say so.
    cinfo.do_fancy_upsampling = FALSE;
    cinfo.dct_method = JDCT_ISLOW;
    jpeg_start_decompress(&cinfo);

    int32_t w = (int32_t)cinfo.output_width, h = (int32_t)cinfo.output_height;
    if ((uint32_t)w != cinfo.image_width || (uint32_t)h != cinfo.image_height ||
        cinfo.output_components != (cmyk ? 4 : 3)) {
        st = ft_err_set(err, FT_E_INTERNAL, "JPEG: unexpected output geometry");
        goto done;
    }
    ft_image tmp = {0, 0, NULL};
    st = ft_io__alloc(&tmp, w, h, err);
    if (st != FT_OK)
        goto done;
    pix = tmp.rgb; // owned through `pix` until libjpeg can no longer longjmp
    if (cmyk) {
        row4 = ft_malloc((size_t)w * 4);
        if (!row4) {
            st = ft_err_set(err, FT_E_NOMEM, "out of memory for a JPEG row");
            goto done;
        }
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *dst = pix + (size_t)cinfo.output_scanline * (size_t)w * 3;
        JSAMPROW row = cmyk ? row4 : dst;
        if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) {
            // Only a suspending source returns 0; the memory source never
            // suspends, so this is a truncated stream libjpeg did not flag.
            st = ft_err_set(err, FT_E_FORMAT, "truncated JPEG data");
            goto done;
        }
        if (cmyk)
            cmyk_row(row4, dst, (size_t)w, inverted);
        else if (ycc)
            ycc_row(dst, (size_t)w);
    }
    jpeg_finish_decompress(&cinfo);

    // No libjpeg call (hence no longjmp) from here on.
    im.w = w;
    im.h = h;
    im.rgb = pix;
    pix = NULL;
    st = ft_io__orient(&im, orientation, err);
    if (st != FT_OK)
        goto done;
    *out = im;
    im.rgb = NULL;
done:
    jpeg_destroy_decompress(&cinfo);
    ft_free(row4);
    ft_free(pix);
    ft_free(im.rgb);
    return st;
}

// ---- Encoding ----

ft_status ft_image_encode_jpeg(const ft_image *im, int quality, ft_buf *out, ft_err *err)
{
    struct jpeg_compress_struct cinfo;
    jpeg_err je;
    unsigned char *mem = NULL;
    unsigned long mem_len = 0;
    volatile ft_status st = FT_OK;

    if (!im || !im->rgb || im->w <= 0 || im->h <= 0)
        return ft_err_set(err, FT_E_INVALID, "JPEG encode: empty image");
    if (quality < 1 || quality > 100)
        return ft_err_set(err, FT_E_INVALID, "JPEG quality %d is outside 1..100", quality);
    if (im->w > JPEG_MAX_DIMENSION || im->h > JPEG_MAX_DIMENSION)
        return ft_err_set(err, FT_E_LIMIT, "JPEG cannot store %dx%d (max %d per side)", (int)im->w,
                          (int)im->h, (int)JPEG_MAX_DIMENSION);
    memset(&cinfo, 0, sizeof cinfo);
    init_err(&je);
    cinfo.err = &je.pub;
    if (setjmp(je.jb)) {
        st = ft_err_set(err, je.code, "%s", je.msg);
        goto done;
    }
    jpeg_create_compress(&cinfo);
    // libjpeg-turbo's memory destination (re)allocates `mem` with malloc
    // and keeps `mem` pointing at the current block, even after an error.
    jpeg_mem_dest(&cinfo, &mem, &mem_len);
    cinfo.image_width = (JDIMENSION)im->w;
    cinfo.image_height = (JDIMENSION)im->h;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        // libjpeg's API is not const-correct; it only reads the row.
        JSAMPROW row = (JSAMPROW)(im->rgb + (size_t)cinfo.next_scanline * (size_t)im->w * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    st = ft_buf_append(out, mem, (size_t)mem_len);
    if (st != FT_OK)
        ft_err_set(err, st, "JPEG encode: output buffer: %s", ft_status_str(st));
done:
    jpeg_destroy_compress(&cinfo);
    free(mem); // allocated by libjpeg with malloc, not ft_malloc
    return st;
}
