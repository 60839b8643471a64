/* Crop resampling as TensorFlow's tf.image.resize(method=bicubic|bilinear,
 * antialias=False) does it (ResizeBicubic / ResizeBilinear kernels with
 * half_pixel_centers=True), on the uint8 crop taken as float, and the
 * evaluation centre crop of DM's _decode_and_center_crop.
 *
 * Bicubic (TF resize_bicubic_op.cc, Keys path):
 *   in = (out + 0.5) * (in_size / out_size) - 0.5 in float32; taps at
 *   floor(in) - 1 .. floor(in) + 2; weights are Keys' cubic with a = -0.5
 *   read from TF's 1024-step table (the fractional part is rounded to
 *   1/1024); a tap outside the source gets weight 0 and the weights are
 *   renormalised to sum 1 (TF does not repeat edge pixels on this path).
 *   Vertical interpolation first, then horizontal, each summing its four
 *   terms left to right as TF does.
 * Bilinear (TF resize_bilinear_op.cc): lower = max(floor(in), 0),
 *   upper = min(ceil(in), in_size - 1), weights 1 - frac and frac; the same
 *   values as torch's interpolate(bilinear, align_corners=False).
 *
 * Both are separable: the vertical pass reads only the crop columns that
 * some output column needs (at most 4 per output column), so a small view
 * of a large crop costs O(size * size), not O(crop area). */
#include <float.h>
#include <math.h>

#include "augment/augment.h"

#define KEYS_A (-0.5)
#define KEYS_TABLE 1024

/* The taps of one output row or column: source indices relative to the
 * crop (later: positions in the compact column list) and weights. */
typedef struct taps4 {
    int32_t i[4];
    float w[4];
} taps4;

/* TF's table entries: Keys' kernel at x = o/1024 (near taps) and at
 * x = o/1024 + 1 (far taps), evaluated in double and stored as float. */
static float keys_near(int64_t o)
{
    const double x = (double)o / KEYS_TABLE;
    return (float)(((KEYS_A + 2) * x - (KEYS_A + 3)) * x * x + 1);
}

static float keys_far(int64_t o)
{
    const double x = (double)o / KEYS_TABLE + 1.0;
    return (float)(((KEYS_A * x - 5 * KEYS_A) * x + 8 * KEYS_A) * x - 4 * KEYS_A);
}

static int64_t bound(int64_t v, int64_t limit)
{
    return v < 0 ? 0 : v > limit - 1 ? limit - 1 : v;
}

static void cubic_taps(float scale, int32_t out, int32_t limit, taps4 *t)
{
    const float in_f = ((float)out + 0.5f) * scale - 0.5f;
    const int64_t in = (int64_t)floorf(in_f);
    const int64_t off = lrintf((in_f - (float)in) * (float)KEYS_TABLE);
    const float w[4] = { keys_far(off), keys_near(off), keys_near(KEYS_TABLE - off),
                         keys_far(KEYS_TABLE - off) };
    for (int k = 0; k < 4; k++) {
        const int64_t idx = in - 1 + k, b = bound(idx, limit);
        t->i[k] = (int32_t)b;
        t->w[k] = b == idx ? w[k] : 0.0f;
    }
    const float sum = t->w[0] + t->w[1] + t->w[2] + t->w[3];
    if (fabsf(sum) >= 1000.0f * FLT_MIN) {
        const float inv = 1.0f / sum;
        for (int k = 0; k < 4; k++)
            t->w[k] *= inv;
    }
}

static void linear_taps(float scale, int32_t out, int32_t limit, taps4 *t)
{
    const float in = ((float)out + 0.5f) * scale - 0.5f;
    const float in_f = floorf(in);
    const float frac = in - in_f;
    t->i[0] = (int32_t)bound((int64_t)in_f, limit);
    t->i[1] = (int32_t)bound((int64_t)ceilf(in), limit);
    t->w[0] = 1.0f - frac;
    t->w[1] = frac;
}

/* Taps of `n` outputs over `limit` source pixels; returns the taps per output. */
static int32_t make_taps(int32_t interp, int32_t limit, int32_t n, taps4 *t)
{
    const float scale = (float)limit / (float)n;
    for (int32_t o = 0; o < n; o++) {
        if (interp == BYOL__INTERP_BILINEAR)
            linear_taps(scale, o, limit, &t[o]);
        else
            cubic_taps(scale, o, limit, &t[o]);
    }
    return interp == BYOL__INTERP_BILINEAR ? 2 : 4;
}

/* Lists the crop columns some output column reads, increasing, in cols, and
 * rewrites each tap as a position in that list. Each output's taps span a
 * window [lo, hi] and the windows move right as the output does, so the
 * list is built in one merge pass and every window is contiguous in it. */
static int32_t compact_columns(taps4 *t, int32_t n, int32_t ntap, int32_t *cols)
{
    int32_t count = 0, first = 0;
    for (int32_t o = 0; o < n; o++) {
        int32_t lo = t[o].i[0], hi = t[o].i[ntap - 1];
        int32_t c = count > 0 && cols[count - 1] >= lo ? cols[count - 1] + 1 : lo;
        for (; c <= hi; c++)
            cols[count++] = c;
        while (cols[first] < lo)
            first++;
        for (int32_t k = 0; k < ntap; k++)
            t[o].i[k] = first + (t[o].i[k] - lo);
    }
    return count;
}

/* Vertical pass. crop rows of img [H, W, C] uint8 -> mid [size, ncols, C]. */
static void resize_rows(const byol_image *img, const byol__box *box, const taps4 *ty,
                        int32_t ntap, int32_t size, const int32_t *cols, int32_t ncols,
                        float *mid)
{
    const int32_t c = img->channels;
    const size_t stride = (size_t)img->width * (size_t)c;
    for (int32_t oy = 0; oy < size; oy++) {
        const uint8_t *row[4];
        for (int32_t k = 0; k < ntap; k++)
            row[k] = img->data + (size_t)(box->y + ty[oy].i[k]) * stride;
        float *dst = mid + (size_t)oy * (size_t)ncols * (size_t)c;
        for (int32_t j = 0; j < ncols; j++) {
            const size_t at = (size_t)(box->x + cols[j]) * (size_t)c;
            for (int32_t ch = 0; ch < c; ch++) {
                float acc = ty[oy].w[0] * (float)row[0][at + ch];
                for (int32_t k = 1; k < ntap; k++)
                    acc += ty[oy].w[k] * (float)row[k][at + ch];
                dst[(size_t)j * (size_t)c + ch] = acc;
            }
        }
    }
}

/* Horizontal pass. mid [size, ncols, C] -> out [C, size, size]. */
static void resize_cols(const float *mid, int32_t c, const taps4 *tx, int32_t ntap,
                        int32_t size, int32_t ncols, float *out)
{
    const size_t plane = (size_t)size * (size_t)size;
    for (int32_t oy = 0; oy < size; oy++) {
        const float *src = mid + (size_t)oy * (size_t)ncols * (size_t)c;
        for (int32_t ox = 0; ox < size; ox++) {
            const taps4 *t = &tx[ox];
            for (int32_t ch = 0; ch < c; ch++) {
                float acc = src[(size_t)t->i[0] * (size_t)c + ch] * t->w[0];
                for (int32_t k = 1; k < ntap; k++)
                    acc += src[(size_t)t->i[k] * (size_t)c + ch] * t->w[k];
                out[(size_t)ch * plane + (size_t)oy * (size_t)size + ox] = acc;
            }
        }
    }
}

int byol__aug_resize(const byol_image *img, const byol__box *box, int32_t interp, int32_t size,
                     float *out)
{
    const int32_t c = img->channels;
    const int32_t max_cols = box->w < 4 * size ? box->w : 4 * size;
    size_t mid_n, bytes;
    if (byol__mul_size((size_t)size * (size_t)c, (size_t)max_cols, &mid_n) ||
        byol__mul_size(mid_n, sizeof(float), &bytes))
        return byol__err(BYOL_E_NOMEM, "augmenter: a %d x %d resize of a %d-column crop is too large",
                         size, size, box->w);
    bytes += 2 * (size_t)size * sizeof(taps4) + (size_t)max_cols * sizeof(int32_t);
    taps4 *tx = byol__malloc(bytes);
    if (!tx)
        return byol__err(BYOL_E_NOMEM, "augmenter: no memory for a %d x %d resize (%zu bytes)",
                         size, size, bytes);
    taps4 *ty = tx + size;
    float *mid = (float *)(ty + size);
    int32_t *cols = (int32_t *)(mid + mid_n);

    const int32_t ntap = make_taps(interp, box->w, size, tx);
    make_taps(interp, box->h, size, ty);
    const int32_t ncols = compact_columns(tx, size, ntap, cols);
    resize_rows(img, box, ty, ntap, size, cols, ncols, mid);
    resize_cols(mid, c, tx, ntap, size, ncols, out);
    byol__free(tx);
    return BYOL_OK;
}

void byol__aug_center_box(int32_t h, int32_t w, double frac, byol__box *box)
{
    /* DM: side = int(frac * min(H, W)), offsets ((H - side) + 1) // 2. */
    const int32_t shorter = h < w ? h : w;
    int32_t side = (int32_t)(frac * (double)shorter);
    if (side < 1)
        side = 1;
    box->w = box->h = side;
    box->x = (w - side + 1) / 2;
    box->y = (h - side + 1) / 2;
}
