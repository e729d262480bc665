/* Native level runner for the student's folded levels (tha4_sdk/models/student/folded.py, native_runner.py),
 * used by the fast render path (tha4_sdk/render/student_fast.py).
 *
 * One call evaluates a band of rows of one SIREN level for one frame, tile by tile, with every
 * intermediate of a tile kept in the core's cache: the first sine layer (from position terms, or from
 * the 2x bilinear upsample of the previous level's output plus border corrections), the hidden sine
 * layers (the BLAS sgemm passed in, then bias + sine in one pass), and the output map (sgemm, then the
 * head bias or the next level's position terms). The Python side calls it from one worker thread per
 * core; ctypes releases the GIL for the call.
 *
 * The sine is a short polynomial instead of libm's: range reduction by multiples of pi (Cody-Waite,
 * two constants; exact for |x| < 2e5), then an odd degree-9 polynomial on [-pi/2, pi/2] fitted for the
 * smallest maximum error (5e-9 in exact arithmetic): within a few float32 ulps of sinf for the |x| < 1e3
 * SIREN layers see.
 * Plain loops, so that the compiler vectorises them for the CPU it is built on.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Fortran BLAS sgemm (LP64), column major */
typedef void (*sgemm_fn)(const char *transa, const char *transb, const int *m, const int *n, const int *k,
                         const float *alpha, const float *a, const int *lda, const float *b, const int *ldb,
                         const float *beta, float *c, const int *ldc);

static inline float fast_sin(float x) {
    const float inv_pi = 0.318309886183790671538f;
    const float pi_hi = 3.140625f, pi_lo = 9.67653589793e-4f;
    float k = nearbyintf(x * inv_pi);
    float r = (x - k * pi_hi) - k * pi_lo;
    float r2 = r * r;
    float p = 2.600053955274915e-06f;
    p = p * r2 - 1.9806614781374892e-04f;
    p = p * r2 + 8.333017284703939e-03f;
    p = p * r2 - 1.6666657096157914e-01f;
    float s = r + r * r2 * p;
    return ((int)k & 1) ? -s : s;
}

/* y[i] = sin(y[i]), for testing the polynomial against libm */
void tha4_sin(float *restrict y, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) y[i] = fast_sin(y[i]);
}

/* row-major c (m x n) = a (m x k) @ b (k x n) */
static void matmul(sgemm_fn sgemm, const float *a, const float *b, float *c, int m, int k, int n) {
    const float one = 1.0f, zero = 0.0f;
    sgemm("N", "N", &n, &m, &k, &one, b, &n, a, &k, &zero, c, &n);
}

/* The fine-resolution sample positions of a 2x bilinear upsample (align_corners=False), as PyTorch:
 * source index i0, next index offset (0 on the last row), weight of the next one. */
static inline void upsample_source(int fine, int coarse_size, int *i0, int *step, float *w1) {
    float src = 0.5f * (float)fine - 0.25f;
    if (src < 0.0f) src = 0.0f;
    *i0 = (int)src;
    *step = *i0 < coarse_size - 1 ? 1 : 0;
    *w1 = src - (float)*i0;
}

/* First sine layer for fine rows r0..r1 into x (pixels x c0). */
static void first_layer(float *restrict x, int size, int c0, int r0, int r1, const float *row_terms,
                        const float *col_terms, const float *feat, const float *edge_rows, const float *edge_cols) {
    if (feat == NULL) {
        for (int r = r0; r < r1; r++)
            for (int j = 0; j < size; j++) {
                float *restrict out = x + ((size_t)(r - r0) * size + j) * c0;
                const float *restrict a = row_terms + (size_t)r * c0, *restrict b = col_terms + (size_t)j * c0;
                for (int c = 0; c < c0; c++) out[c] = fast_sin(a[c] + b[c]);
            }
        return;
    }
    int coarse = size / 2;
    for (int r = r0; r < r1; r++) {
        int h0, hstep;
        float h1w;
        upsample_source(r, coarse, &h0, &hstep, &h1w);
        float h0w = 1.0f - h1w;
        const float *edge_r = r == 0 ? edge_rows : r == size - 1 ? edge_rows + c0 : NULL;
        for (int j = 0; j < size; j++) {
            int w0, wstep;
            float w1w;
            upsample_source(j, coarse, &w0, &wstep, &w1w);
            float w0w = 1.0f - w1w;
            const float *restrict p00 = feat + ((size_t)h0 * coarse + w0) * c0;
            const float *restrict p01 = p00 + (size_t)wstep * c0;
            const float *restrict p10 = p00 + (size_t)hstep * coarse * c0;
            const float *restrict p11 = p10 + (size_t)wstep * c0;
            const float *edge_c = j == 0 ? edge_cols : j == size - 1 ? edge_cols + c0 : NULL;
            float *restrict out = x + ((size_t)(r - r0) * size + j) * c0;
            for (int c = 0; c < c0; c++)
                out[c] = h0w * (w0w * p00[c] + w1w * p01[c]) + h1w * (w0w * p10[c] + w1w * p11[c]);
            if (edge_r)
                for (int c = 0; c < c0; c++) out[c] += edge_r[c];
            if (edge_c)
                for (int c = 0; c < c0; c++) out[c] += edge_c[c];
            for (int c = 0; c < c0; c++) out[c] = fast_sin(out[c]);
        }
    }
}

/* Rows r0..r1 of one level for one frame; returns 0, or -1 when scratch memory cannot be had.
 *
 * row_terms/col_terms (size x c0): the first layer's position terms (pose included in row_terms), used
 * when feat is NULL; otherwise feat ((size/2)^2 x c0) is upsampled and edge_rows/edge_cols (2 x c0) are
 * added on the border rows/columns. hidden_w[k] (in x out, row major) and hidden_b[k] are the hidden sine
 * layers; out_w (in x out_c) the output map, followed by out_b (out_c) or by out_row_terms/out_col_terms
 * (size x out_c). out is the frame's size x size x out_c output. tile_values bounds a tile's activations. */
int tha4_level(sgemm_fn sgemm, int size, int c0, int r0, int r1, const float *row_terms, const float *col_terms,
               const float *feat, const float *edge_rows, const float *edge_cols, int n_hidden,
               const float *const *hidden_w, const float *const *hidden_b, const int *hidden_out,
               const float *out_w, int out_c, const float *out_b, const float *out_row_terms,
               const float *out_col_terms, float *out, int tile_values) {
    int widest = c0;
    for (int k = 0; k < n_hidden; k++) widest = hidden_out[k] > widest ? hidden_out[k] : widest;
    int tile_rows = tile_values / (size * widest);
    if (tile_rows < 1) tile_rows = 1;
    size_t buffer = (size_t)tile_rows * size * widest;
    float *scratch = aligned_alloc(64, ((2 * buffer * sizeof(float)) + 63) / 64 * 64);
    if (scratch == NULL) return -1;
    for (int t0 = r0; t0 < r1; t0 += tile_rows) {
        int t1 = t0 + tile_rows < r1 ? t0 + tile_rows : r1, pixels = (t1 - t0) * size;
        float *x = scratch, *y = scratch + buffer;
        first_layer(x, size, c0, t0, t1, row_terms, col_terms, feat, edge_rows, edge_cols);
        int width = c0;
        for (int k = 0; k < n_hidden; k++) {
            int n = hidden_out[k];
            matmul(sgemm, x, hidden_w[k], y, pixels, width, n);
            const float *restrict b = hidden_b[k];
            for (int p = 0; p < pixels; p++) {
                float *restrict v = y + (size_t)p * n;
                for (int c = 0; c < n; c++) v[c] = fast_sin(v[c] + b[c]);
            }
            float *swap = x; x = y; y = swap;
            width = n;
        }
        float *o = out + (size_t)t0 * size * out_c;
        matmul(sgemm, x, out_w, o, pixels, width, out_c);
        for (int r = t0; r < t1; r++)
            for (int j = 0; j < size; j++) {
                float *restrict v = o + ((size_t)(r - t0) * size + j) * out_c;
                if (out_b != NULL) {
                    for (int c = 0; c < out_c; c++) v[c] += out_b[c];
                } else {
                    const float *restrict a = out_row_terms + (size_t)r * out_c;
                    const float *restrict b = out_col_terms + (size_t)j * out_c;
                    for (int c = 0; c < out_c; c++) v[c] += a[c] + b[c];
                }
            }
    }
    free(scratch);
    return 0;
}

/* Rows r0..r1 of the body morpher's five outputs for one frame, from its head (size x size x 7: grid change
 * x, y, alpha, colour change RGBA) and the face-pasted image (4 planes of size x size), as the official
 * compose does: warped = grid_sample(image, identity + grid change; bilinear, border, align_corners=False),
 * blended = (1 - alpha) * warped + alpha * colour change. base_x/base_y: the identity grid's coordinates.
 * Outputs are planes (NCHW): blended 4, alpha 1, colour 4, warped 4, grid change 2. */
void tha4_compose(const float *restrict head, const float *restrict image, const float *restrict base_x,
                  const float *restrict base_y, int size, int r0, int r1, float *restrict blended,
                  float *restrict alpha, float *restrict color, float *restrict warped, float *restrict grid) {
    size_t plane = (size_t)size * size;
    float last = (float)(size - 1);
    for (int r = r0; r < r1; r++)
        for (int j = 0; j < size; j++) {
            size_t p = (size_t)r * size + j;
            const float *h = head + p * 7;
            float ix = ((base_x[j] + h[0] + 1.0f) * (float)size - 1.0f) / 2.0f;
            float iy = ((base_y[r] + h[1] + 1.0f) * (float)size - 1.0f) / 2.0f;
            ix = fminf(fmaxf(ix, 0.0f), last);
            iy = fminf(fmaxf(iy, 0.0f), last);
            int x0 = (int)floorf(ix), y0 = (int)floorf(iy);
            int x1 = x0 + 1 < size ? x0 + 1 : -1, y1 = y0 + 1 < size ? y0 + 1 : -1;
            float ex = ix - (float)x0, wx = (float)(x0 + 1) - ix, ey = iy - (float)y0, wy = (float)(y0 + 1) - iy;
            float nw = wx * wy, ne = ex * wy, sw = wx * ey, se = ex * ey;
            float a = h[2];
            grid[p] = h[0];
            grid[plane + p] = h[1];
            alpha[p] = a;
            for (int c = 0; c < 4; c++) {
                const float *src = image + c * plane;
                float v = src[(size_t)y0 * size + x0] * nw;
                if (x1 >= 0) v += src[(size_t)y0 * size + x1] * ne;
                if (y1 >= 0) v += src[(size_t)y1 * size + x0] * sw;
                if (x1 >= 0 && y1 >= 0) v += src[(size_t)y1 * size + x1] * se;
                float col = h[3 + c];
                color[c * plane + p] = col;
                warped[c * plane + p] = v;
                blended[c * plane + p] = (1.0f - a) * v + a * col;
            }
        }
}
