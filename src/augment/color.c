/* Colour jitter and grayscale on planar float images in [0, 1].
 *
 * tf mode is DM's _color_transform_single_image (TF semantics): additive
 * brightness, contrast around each channel's own mean, saturation and hue
 * through DM's RGB <-> HSV (the TF kernel's formulas), grayscale weights
 * 0.2989/0.5870/0.1140. torchvision mode follows ColorJitter and
 * RandomGrayscale on PIL images in float: brightness scales, contrast
 * blends with the mean luma of the whole image, saturation blends with each
 * pixel's luma, luma weights 0.299/0.587/0.114 (PIL's "L"; torchvision's
 * tensor path uses 0.2989), hue shifts in HSV. Every operation clips its
 * output to [0, 1], as DM does after each op and torchvision's _blend does. */
#include <math.h>

#include "augment/augment.h"

static float clip01(float x)
{
    return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x;
}

/* Python's x % 1.0 (jnp.remainder): the result has the sign of 1. x minus
 * its truncation is exact (what fmodf returns) and needs no libm call,
 * which matters at two HSV round trips per pixel; |x| < 2 here. */
static float mod1(float x)
{
    const float r = x - (float)(int32_t)x;
    return r < 0.0f ? r + 1.0f : r;
}

static inline float max3(float a, float b, float c)
{
    const float m = a > b ? a : b;
    return m > c ? m : c;
}

static inline float min3(float a, float b, float c)
{
    const float m = a < b ? a : b;
    return m < c ? m : c;
}

/* Inline (and comparisons, not fmaxf: no libm call) because the HSV
 * operations run it per pixel; inputs are finite. */
static inline void to_hsv(float r, float g, float b, float *h, float *s, float *v)
{
    const float mx = max3(r, g, b);
    const float range = mx - min3(r, g, b);
    const float norm = range != 0.0f ? 1.0f / (6.0f * range) : 1e9f;
    float hue;
    if (r == mx)
        hue = norm * (g - b);
    else if (g == mx)
        hue = norm * (b - r) + 2.0f / 6.0f;
    else
        hue = norm * (r - g) + 4.0f / 6.0f;
    if (!(range > 0.0f))
        hue = 0.0f;
    if (hue < 0.0f)
        hue += 1.0f;
    *h = hue;
    *s = mx > 0.0f ? range / mx : 0.0f;
    *v = mx;
}

static inline void from_hsv(float h, float s, float v, float *r, float *g, float *b)
{
    const float c = s * v, m = v - c;
    const float dh = mod1(h) * 6.0f;
    /* dh is in [0, 6]: truncation is floor, and dh - 2 floor(dh / 2) is
     * dh mod 2 exactly. mod1 may round up to exactly 1 (sector 6): DM's
     * selects then give 0 + m on every channel, and so do these. */
    const int sector = (int)dh;
    const float x = c * (1.0f - fabsf(dh - (float)(sector & ~1) - 1.0f));
    *r = (sector == 0 || sector == 5 ? c : sector == 1 || sector == 4 ? x : 0.0f) + m;
    *g = (sector == 1 || sector == 2 ? c : sector == 0 || sector == 3 ? x : 0.0f) + m;
    *b = (sector == 3 || sector == 4 ? c : sector == 2 || sector == 5 ? x : 0.0f) + m;
}

void byol__rgb_to_hsv(float r, float g, float b, float *h, float *s, float *v)
{
    to_hsv(r, g, b, h, s, v);
}

void byol__hsv_to_rgb(float h, float s, float v, float *r, float *g, float *b)
{
    from_hsv(h, s, v, r, g, b);
}

static float luma(float r, float g, float b, int32_t mode)
{
    if (mode == BYOL__JITTER_TORCHVISION)
        return 0.299f * r + 0.587f * g + 0.114f * b;
    return 0.2989f * r + 0.5870f * g + 0.1140f * b;
}

static float mean_of(const float *x, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    return (float)(sum / (double)n);
}

static float mean_luma(const float *x, int32_t c, size_t n)
{
    if (c == 1)
        return mean_of(x, n);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += luma(x[i], x[n + i], x[2 * n + i], BYOL__JITTER_TORCHVISION);
    return (float)(sum / (double)n);
}

/* x [c, n]: x = clip(a * x + b). tf brightness is a = 1, b = delta;
 * torchvision brightness a = f, b = 0. */
static void affine(float *x, size_t n, float a, float b)
{
    for (size_t i = 0; i < n; i++)
        x[i] = clip01(a * x[i] + b);
}

/* x [c, n]: tf contrast, each channel around its own mean. */
static void contrast_tf(float *x, int32_t c, size_t n, float f)
{
    for (int32_t ch = 0; ch < c; ch++) {
        float *p = x + (size_t)ch * n;
        const float m = mean_of(p, n);
        for (size_t i = 0; i < n; i++)
            p[i] = clip01(f * (p[i] - m) + m);
    }
}

/* x [c, n]: torchvision contrast, a blend with the image's mean luma. */
static void contrast_tv(float *x, int32_t c, size_t n, float f)
{
    const float m = mean_luma(x, c, n);
    for (size_t i = 0; i < (size_t)c * n; i++)
        x[i] = clip01(f * x[i] + (1.0f - f) * m);
}

/* x [3, n]: torchvision saturation, each pixel blended with its luma. */
static void saturation_tv(float *x, size_t n, float f)
{
    for (size_t i = 0; i < n; i++) {
        const float y = luma(x[i], x[n + i], x[2 * n + i], BYOL__JITTER_TORCHVISION);
        for (int ch = 0; ch < 3; ch++)
            x[ch * n + i] = clip01(f * x[ch * n + i] + (1.0f - f) * y);
    }
}

/* x [3, n]: through HSV. Saturation: s = clip(s * f, 0, 1) (tf mode only);
 * hue: h = (h + delta) mod 1 (both modes). */
static void hsv_op(float *x, size_t n, int32_t op, float value)
{
    for (size_t i = 0; i < n; i++) {
        float h, s, v, r, g, b;
        to_hsv(x[i], x[n + i], x[2 * n + i], &h, &s, &v);
        if (op == BYOL__OP_SATURATION)
            s = clip01(s * value);
        else
            h = mod1(h + value);
        from_hsv(h, s, v, &r, &g, &b);
        x[i] = clip01(r);
        x[n + i] = clip01(g);
        x[2 * n + i] = clip01(b);
    }
}

void byol__aug_jitter_op(float *x, int32_t c, size_t n, int32_t mode, int32_t op, float value)
{
    const int tv = mode == BYOL__JITTER_TORCHVISION;
    switch (op) {
    case BYOL__OP_BRIGHTNESS:
        affine(x, (size_t)c * n, tv ? value : 1.0f, tv ? 0.0f : value);
        break;
    case BYOL__OP_CONTRAST:
        if (tv)
            contrast_tv(x, c, n, value);
        else
            contrast_tf(x, c, n, value);
        break;
    case BYOL__OP_SATURATION:
        if (tv)
            saturation_tv(x, n, value);
        else
            hsv_op(x, n, op, value);
        break;
    default:
        hsv_op(x, n, BYOL__OP_HUE, value);
        break;
    }
}

void byol__aug_grayscale(float *x, size_t n, int32_t mode)
{
    for (size_t i = 0; i < n; i++) {
        const float y = clip01(luma(x[i], x[n + i], x[2 * n + i], mode));
        x[i] = x[n + i] = x[2 * n + i] = y;
    }
}
