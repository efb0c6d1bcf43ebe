// AVX-512 variant of the recognition chip's similarity warp (see
// ft_face__warp_chip in face_internal.h). Built with the AVX-512 flags by
// file-name suffix; called only when the CPU has them.
//
// Eight chip pixels at a time: their source positions, floors and
// fractions in double; when all eight have their four neighbours inside
// the image, the neighbours' RGB come from four 64-bit-indexed gathers of
// four bytes (the fourth byte is the next pixel's, inside the image as
// x0 + 2 < w), each channel is blended and normalised in eight lanes, and
// the three channels are interleaved back to RGB. Groups at the image's
// edges gather each corner under a mask of the pixels inside it (zeros
// elsewhere, as the reference).
//
// Bit for bit the reference: the same operations in the same order per
// sample. The products go through _mm512_mul_round_pd (round to nearest,
// the default mode), which the compiler cannot fuse with the following add
// into an FMA (this file is built with -mfma and GNU C's default
// -ffp-contract=fast); face.warp_matches_ref checks it.
#include "face/face_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CHIP 150
#define RN (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

static const float chip_mean[3] = {122.782f, 117.001f, 104.298f}; // recognition.c's

// Byte `ch` of each of eight gathered dwords, as doubles.
static inline __m512d chan(__m256i v, int ch)
{
    __m256i b = _mm256_and_si256(_mm256_srli_epi32(v, 8 * ch), _mm256_set1_epi32(0xFF));
    return _mm512_cvtepi32_pd(b);
}

// a + (b - a) * f, the product rounded on its own.
static inline __m512d lerp(__m512d a, __m512d b, __m512d f)
{
    return _mm512_add_pd(a, _mm512_mul_round_pd(_mm512_sub_pd(b, a), f, RN));
}

// The image for the masked gathers at its edges.
typedef struct edges {
    const uint8_t *base;
    __m512i stride;     // w * 3
    __m256i w, h, last_x, last_y; // w, h, w - 1, h - 1
} edges;

// The RGB bytes of pixels (xx, yy) as dwords, zero outside the image (the
// reference's zeros). Four bytes are read from each pixel's first byte,
// except at the image's last pixel, read from one byte before and shifted,
// so no read passes the image's end (the image has two pixels or more).
static inline __m256i corner(const edges *e, __m256i xx, __m256i yy)
{
    __mmask8 in = _mm256_cmp_epi32_mask(xx, _mm256_setzero_si256(), _MM_CMPINT_NLT) &
                  _mm256_cmp_epi32_mask(xx, e->w, _MM_CMPINT_LT) &
                  _mm256_cmp_epi32_mask(yy, _mm256_setzero_si256(), _MM_CMPINT_NLT) &
                  _mm256_cmp_epi32_mask(yy, e->h, _MM_CMPINT_LT);
    __mmask8 last = _mm256_cmp_epi32_mask(xx, e->last_x, _MM_CMPINT_EQ) &
                    _mm256_cmp_epi32_mask(yy, e->last_y, _MM_CMPINT_EQ) & in;
    __m512i off = _mm512_add_epi64(
        _mm512_mul_epi32(_mm512_cvtepi32_epi64(yy), e->stride),
        _mm512_mul_epi32(_mm512_cvtepi32_epi64(xx), _mm512_set1_epi64(3)));
    off = _mm512_mask_sub_epi64(off, last, off, _mm512_set1_epi64(1));
    __m256i v = _mm512_mask_i64gather_epi32(_mm256_setzero_si256(), in, off, e->base, 1);
    return _mm256_mask_srli_epi32(v, last, v, 8);
}

void ft_face__warp_chip_avx512(const ft_image *im, const double m[6], float *out)
{
    if ((size_t)im->w * im->h < 2) { // no four bytes to read anywhere
        ft_face__warp_chip_c(im, m, out);
        return;
    }
    const edges e = {im->rgb, _mm512_set1_epi64((long long)im->w * 3), _mm256_set1_epi32(im->w),
                     _mm256_set1_epi32(im->h), _mm256_set1_epi32(im->w - 1),
                     _mm256_set1_epi32(im->h - 1)};
    const __m512d lane = _mm512_set_pd(7, 6, 5, 4, 3, 2, 1, 0);
    const __m512d m0 = _mm512_set1_pd(m[0]), m3 = _mm512_set1_pd(m[3]);
    const __m256i max_x = _mm256_set1_epi32(im->w - 3), max_y = _mm256_set1_epi32(im->h - 2);
    const __m512i stride = _mm512_set1_epi64((long long)im->w * 3);
    const __m256 k255 = _mm256_set1_ps(255.0f);
    const uint8_t *base = im->rgb;
    const __m512i rgb_lo = _mm512_set_epi32(5, 20, 12, 4, 19, 11, 3, 18, 10, 2, 17, 9, 1, 16, 8, 0);
    const __m512i rgb_hi = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 23, 15, 7, 22, 14, 6, 21, 13);
    for (int32_t r = 0; r < CHIP; r++) {
        // m[1]*r, as the reference: the row term in double, then + m[2].
        const __m512d rx = _mm512_set1_pd(m[1] * r), ry = _mm512_set1_pd(m[4] * r);
        const __m512d tx = _mm512_set1_pd(m[2]), ty = _mm512_set1_pd(m[5]);
        float *orow = out + (size_t)r * CHIP * 3;
        // Groups of eight; the last starts at CHIP - 8, recomputing two
        // pixels of the one before with the same result.
        for (int32_t g = 0; g < (CHIP + 7) / 8; g++) {
            int32_t c0 = g * 8 < CHIP - 8 ? g * 8 : CHIP - 8;
            __m512d cv = _mm512_add_pd(_mm512_set1_pd((double)c0), lane);
            __m512d x = _mm512_add_pd(_mm512_add_pd(_mm512_mul_round_pd(m0, cv, RN), rx), tx);
            __m512d y = _mm512_add_pd(_mm512_add_pd(_mm512_mul_round_pd(m3, cv, RN), ry), ty);
            __m256i x0 = _mm512_cvttpd_epi32(_mm512_roundscale_pd(x, _MM_FROUND_TO_NEG_INF));
            __m256i y0 = _mm512_cvttpd_epi32(_mm512_roundscale_pd(y, _MM_FROUND_TO_NEG_INF));
            // Inside: 0 <= x0 <= w - 3 and 0 <= y0 <= h - 2, all eight:
            // plain gathers; else masked ones, corner by corner.
            const __m256i zero = _mm256_setzero_si256();
            __m256i bad = _mm256_or_si256(
                _mm256_or_si256(_mm256_cmpgt_epi32(zero, x0), _mm256_cmpgt_epi32(zero, y0)),
                _mm256_or_si256(_mm256_cmpgt_epi32(x0, max_x), _mm256_cmpgt_epi32(y0, max_y)));
            __m512d fx = _mm512_sub_pd(x, _mm512_cvtepi32_pd(x0));
            __m512d fy = _mm512_sub_pd(y, _mm512_cvtepi32_pd(y0));
            __m256i tl, tr, bl, br;
            if (_mm256_testz_si256(bad, bad)) {
                __m512i off = _mm512_add_epi64(
                    _mm512_mul_epi32(_mm512_cvtepi32_epi64(y0), stride),
                    _mm512_mul_epi32(_mm512_cvtepi32_epi64(x0), _mm512_set1_epi64(3)));
                const __m512i three = _mm512_set1_epi64(3);
                __m512i offb = _mm512_add_epi64(off, stride);
                tl = _mm512_i64gather_epi32(off, base, 1);
                tr = _mm512_i64gather_epi32(_mm512_add_epi64(off, three), base, 1);
                bl = _mm512_i64gather_epi32(offb, base, 1);
                br = _mm512_i64gather_epi32(_mm512_add_epi64(offb, three), base, 1);
            } else {
                tl = corner(&e, x0, y0);
                tr = corner(&e, _mm256_add_epi32(x0, _mm256_set1_epi32(1)), y0);
                bl = corner(&e, x0, _mm256_add_epi32(y0, _mm256_set1_epi32(1)));
                br = corner(&e, _mm256_add_epi32(x0, _mm256_set1_epi32(1)),
                            _mm256_add_epi32(y0, _mm256_set1_epi32(1)));
            }
            __m256 pl[3];
            for (int ch = 0; ch < 3; ch++) {
                __m512d top = lerp(chan(tl, ch), chan(tr, ch), fx);
                __m512d bot = lerp(chan(bl, ch), chan(br, ch), fx);
                __m256 p = _mm512_cvtpd_ps(lerp(top, bot, fy));
                pl[ch] = _mm256_div_ps(_mm256_sub_ps(p, _mm256_set1_ps(chip_mean[ch])), k255);
            }
            // Planes to RGB: R_k is lane k of rg, G_k lane 8 + k, B_k lane
            // 16 + k of the pair (rg, b).
            __m512 rg = _mm512_insertf32x8(_mm512_castps256_ps512(pl[0]), pl[1], 1);
            __m512 b = _mm512_castps256_ps512(pl[2]);
            float *o = orow + (size_t)c0 * 3;
            _mm512_storeu_ps(o, _mm512_permutex2var_ps(rg, rgb_lo, b));
            _mm256_storeu_ps(o + 16,
                             _mm512_castps512_ps256(_mm512_permutex2var_ps(rg, rgb_hi, b)));
        }
    }
}
#else
void ft_face__warp_chip_avx512(const ft_image *im, const double m[6], float *out)
{
    ft_face__warp_chip_ref(im, m, out);
}
#endif
