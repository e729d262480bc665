/* Native kernels for the separable networks' blocks on the CPU (tha4_sdk/models/separable_native.py).
 *
 * A block is: depthwise k x k convolution (stride 1 or 2, zero padding) -> 1x1 convolution (no bias) ->
 * instance norm (affine) -> LeakyReLU. Its input may be the channel concatenation of two channels-last sources, the
 * first possibly at half resolution (a nearest 2x upsample, as THA3's U-Net and encoder-decoder feed their
 * upsampling blocks): the kernel reads them where they are and never builds the upsampled or
 * concatenated tensor.
 *
 * tha4_sep_band computes output rows y0..y1 of one image, a few rows at a time: the depthwise result of
 * those rows goes into a small buffer (it stays in cache), the BLAS sgemm passed in multiplies it by the
 * 1x1 weights straight into the output, and each channel's sum and sum of squares are accumulated in double
 * for the normalisation. tha4_norm_leaky then applies the normalisation, the affine map and the LeakyReLU
 * in place, in one pass. Python calls both from one worker thread per core (ctypes releases the GIL).
 * Plain loops, so that the compiler vectorises them for the CPU it is built on.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Fortran BLAS sgemm (LP64), column major */
typedef void (*sgemm_fn)(const char *transa, const char *transb, const int *m, const int *n, const int *k,
                         const float *alpha, const float *a, const int *lda, const float *b, const int *ldb,
                         const float *beta, float *c, const int *ldc);

/* the channels of pixel (y, x) of a channels-last source of `c` channels, at half resolution if `half` */
static inline const float *pixel(const float *src, int c, int half, int w, int y, int x) {
    return src + ((size_t)(y >> half) * (size_t)(w >> half) + (size_t)(x >> half)) * (size_t)c;
}

/* output rows y0..y1 (channels-last, cout channels) of one image whose input is h x w: src0 (c0 channels,
 * read as the nearest 2x upsample of an h/2 x w/2 tensor if half0) and src1 (c1 channels; NULL when c1 = 0);
 * dw: ksize*ksize taps x (c0 + c1), tap-major, applied with `stride` and zero padding `pad`;
 * pw: (c0 + c1) x cout; sums, sumsq: cout doubles each, added to. Returns 1 when out of memory. */
int tha4_sep_band(sgemm_fn sgemm, int h, int w, const float *src0, int c0, int half0, const float *src1,
                  int c1, const float *dw, int ksize, int stride, int pad, const float *pw, int cout, int y0, int y1,
                  int rows_per_tile, float *out, double *sums, double *sumsq) {
    const int cin = c0 + c1, ow = (w + 2 * pad - ksize) / stride + 1;
    float *buf = malloc(sizeof(float) * (size_t)rows_per_tile * (size_t)ow * (size_t)cin);
    if (!buf) return 1;
    for (int t0 = y0; t0 < y1; t0 += rows_per_tile) {
        const int t1 = t0 + rows_per_tile < y1 ? t0 + rows_per_tile : y1;
        for (int y = t0; y < t1; y++) {
            for (int x = 0; x < ow; x++) {
                float *acc = buf + ((size_t)(y - t0) * (size_t)ow + (size_t)x) * (size_t)cin;
                memset(acc, 0, sizeof(float) * (size_t)cin);
                for (int ky = 0; ky < ksize; ky++) {
                    const int yy = y * stride + ky - pad;
                    if (yy < 0 || yy >= h) continue;
                    for (int kx = 0; kx < ksize; kx++) {
                        const int xx = x * stride + kx - pad;
                        if (xx < 0 || xx >= w) continue;
                        const float *k = dw + (size_t)(ky * ksize + kx) * (size_t)cin;
                        const float *p0 = pixel(src0, c0, half0, w, yy, xx);
                        for (int c = 0; c < c0; c++) acc[c] += k[c] * p0[c];
                        if (c1) {
                            const float *p1 = pixel(src1, c1, 0, w, yy, xx), *k1 = k + c0;
                            float *a1 = acc + c0;
                            for (int c = 0; c < c1; c++) a1[c] += k1[c] * p1[c];
                        }
                    }
                }
            }
        }
        const int m = (t1 - t0) * ow, n = cout, k = cin;
        const float one = 1.0f, zero = 0.0f;
        float *o = out + (size_t)t0 * (size_t)ow * (size_t)cout;
        sgemm("N", "N", &n, &m, &k, &one, pw, &n, buf, &k, &zero, o, &n); /* row-major o = buf @ pw */
        for (int i = 0; i < m; i++) {
            const float *v = o + (size_t)i * (size_t)cout;
            for (int c = 0; c < cout; c++) {
                const double d = v[c];
                sums[c] += d;
                sumsq[c] += d * d;
            }
        }
    }
    free(buf);
    return 0;
}

/* x (pixels x c, channels-last) = LeakyReLU(x * scale + shift), per channel, in place */
void tha4_norm_leaky(float *x, ptrdiff_t pixels, int c, const float *scale, const float *shift, float slope) {
    for (ptrdiff_t i = 0; i < pixels; i++) {
        float *v = x + i * c;
        for (int j = 0; j < c; j++) {
            const float z = v[j] * scale[j] + shift[j];
            v[j] = z < 0.0f ? z * slope : z;
        }
    }
}
