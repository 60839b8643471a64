/* Random draws of one view: a pure function of (seed, epoch, index, view)
 * and the image size, so a view never depends on threads, batch size or the
 * order in which workers run.
 *
 * Stream: Philox-4x32 keyed by the seed, counter words
 *   a = epoch (< 2^32), b = index bits 0..31, c = view | (index bits 32..61) << 2.
 * view is 1 or 2 and sits in c's two low bits, so distinct (epoch, index,
 * view) with epoch < 2^32 and index < 2^62 never share a stream, and no
 * augmenter stream has c & 3 == 0 (network initialisation uses c = 0).
 *
 * Draw order: BYOL__AUG_UNIFORMS uniforms in [0, 1) are taken first, always
 * all of them, then turned into parameters; every value is drawn whether
 * or not its operation applies, and the crop takes a fixed block whatever
 * the crop mode. So changing one probability or mode never shifts another
 * operation's draw. Positions:
 *   0 .. 21  crop: try k uses u[2k] (area) and u[2k+1] (log-ratio),
 *            u[20] and u[21] the x and y offsets (reference mode: try 0 only)
 *   22 flip coin, 23 jitter coin, 24..26 jitter order (Fisher-Yates),
 *   27..30 brightness, contrast, saturation, hue values,
 *   31 grayscale coin, 32 blur coin, 33 sigma, 34 solarise coin.
 *
 * Coins: an operation applies when u < p, so p = 0 never applies and p = 1
 * always does. (DM writes u <= p; the two differ only when u equals p
 * exactly, probability 2^-53.) */
#include <math.h>
#include <string.h>

#include "augment/augment.h"

enum {
    U_FLIP = BYOL__CROP_UNIFORMS,
    U_JITTER,
    U_ORDER,                 /* 3 uniforms */
    U_BRIGHTNESS = U_ORDER + 3,
    U_CONTRAST,
    U_SATURATION,
    U_HUE,
    U_GRAY,
    U_BLUR,
    U_SIGMA,
    U_SOLARIZE,
    U_END
};
_Static_assert(U_END == BYOL__AUG_UNIFORMS, "draw positions and BYOL__AUG_UNIFORMS disagree");

void byol__aug_rng(byol__rng *r, uint64_t seed, int64_t epoch, int64_t index, int32_t view)
{
    const uint64_t i = (uint64_t)index;
    byol__rng_init(r, seed, (uint32_t)epoch, (uint32_t)i,
                   (uint32_t)view | (uint32_t)(i >> 32) << 2);
}

/* An integer in [0, n) from u in [0, 1). */
static int32_t uniform_int(double u, int32_t n)
{
    int32_t k = (int32_t)(u * (double)n);
    return k < n ? k : n - 1;
}

static double uniform_in(double lo, double hi, double u)
{
    return lo + (hi - lo) * u;
}

static int32_t clamp_side(double v, int32_t limit)
{
    if (!(v >= 1))
        return 1;
    return v > limit ? limit : (int32_t)v;
}

/* One (area, ratio) try: w = round(sqrt(area * ratio)), h = round(sqrt(area /
 * ratio)), rounding half to even like tf.round and Python's round. Doubles,
 * not yet clamped (the caller decides what to do with a crop too large). */
static void crop_try(const byol__aug_view *v, int32_t h, int32_t w, const double *u,
                     double *cw, double *ch)
{
    const double area = uniform_in(v->area_min, v->area_max, u[0]) * (double)h * (double)w;
    const double ratio = exp(uniform_in(log(v->ratio_min), log(v->ratio_max), u[1]));
    *cw = nearbyint(sqrt(area * ratio));
    *ch = nearbyint(sqrt(area / ratio));
}

/* torchvision's fallback after 10 failed tries: a centre crop of the whole
 * image with its ratio clamped to the range. */
static void crop_fallback(const byol__aug_view *v, int32_t h, int32_t w, byol__box *box)
{
    const double in_ratio = (double)w / (double)h;
    double cw = w, ch = h;
    if (in_ratio < v->ratio_min)
        ch = nearbyint(cw / v->ratio_min);
    else if (in_ratio > v->ratio_max)
        cw = nearbyint(ch * v->ratio_max);
    box->w = clamp_side(cw, w);
    box->h = clamp_side(ch, h);
    box->x = (w - box->w) / 2;
    box->y = (h - box->h) / 2;
}

void byol__aug_crop_box(const byol__aug_view *v, int32_t mode, int32_t h, int32_t w,
                        const double *u, byol__box *box)
{
    const double *off = u + 2 * BYOL__CROP_TRIES;
    double cw, ch;
    if (mode == BYOL__CROP_TORCHVISION) {
        int32_t k = 0;
        for (; k < BYOL__CROP_TRIES; k++) {
            crop_try(v, h, w, u + 2 * k, &cw, &ch);
            if (cw > 0 && cw <= w && ch > 0 && ch <= h)
                break;
        }
        if (k == BYOL__CROP_TRIES) {
            crop_fallback(v, h, w, box);
            return;
        }
    } else {
        /* DM: one try, then w = min(w, W), h = min(h, H) (the ratio may leave
         * its range); at least one pixel, where TF would fail. */
        crop_try(v, h, w, u, &cw, &ch);
    }
    box->w = clamp_side(cw, w);
    box->h = clamp_side(ch, h);
    box->x = uniform_int(off[0], w - box->w + 1);
    box->y = uniform_int(off[1], h - box->h + 1);
}

static int32_t op_strength_zero(const byol__aug_view *v, int32_t op)
{
    const double s[4] = { v->brightness, v->contrast, v->saturation, v->hue };
    return s[op] == 0;
}

/* A uniform permutation of the 4 operations (Fisher-Yates), then the ones
 * that cannot act are left out: strength 0 (DM: `if brightness > 0`;
 * torchvision: a None factor), and saturation and hue on one channel. */
static void draw_order(const byol__aug_view *v, int32_t channels, const double *u,
                       byol__aug_params *p)
{
    int32_t perm[4] = { BYOL__OP_BRIGHTNESS, BYOL__OP_CONTRAST, BYOL__OP_SATURATION, BYOL__OP_HUE };
    for (int32_t i = 3; i > 0; i--) {
        int32_t j = uniform_int(u[3 - i], i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    p->nops = 0;
    for (int32_t i = 0; i < 4; i++) {
        const int32_t op = perm[i];
        if (op_strength_zero(v, op))
            continue;
        if (channels == 1 && (op == BYOL__OP_SATURATION || op == BYOL__OP_HUE))
            continue;
        p->order[p->nops++] = op;
    }
}

/* tf: brightness delta in [-b, b), factors in [1-c, 1+c) and [1-s, 1+s), hue
 * delta in [-h, h). torchvision: brightness factor in [max(0, 1-b), 1+b),
 * contrast and saturation likewise, hue delta in [-h, h). */
static void draw_jitter_values(int32_t mode, const byol__aug_view *v, const double *u,
                               byol__aug_params *p)
{
    const double b = v->brightness, c = v->contrast, s = v->saturation, h = v->hue;
    if (mode == BYOL__JITTER_TORCHVISION)
        p->brightness = uniform_in(fmax(0.0, 1 - b), 1 + b, u[0]);
    else
        p->brightness = uniform_in(-b, b, u[0]);
    p->contrast = uniform_in(fmax(0.0, 1 - c), 1 + c, u[1]);
    p->saturation = uniform_in(fmax(0.0, 1 - s), 1 + s, u[2]);
    p->hue = uniform_in(-h, h, u[3]);
}

void byol__aug_from_uniforms(const byol_augmenter *aug, const byol__aug_view *v, int32_t h,
                             int32_t w, const double *u, byol__aug_params *p)
{
    memset(p, 0, sizeof *p);
    byol__aug_crop_box(v, aug->crop_mode, h, w, u, &p->box);
    p->flip = u[U_FLIP] < v->flip_p;
    p->jitter = u[U_JITTER] < v->jitter_p;
    draw_order(v, aug->channels, u + U_ORDER, p);
    draw_jitter_values(aug->jitter_mode, v, u + U_BRIGHTNESS, p);
    p->gray = u[U_GRAY] < v->gray_p;
    p->blur = u[U_BLUR] < v->blur_p;
    p->sigma = uniform_in(v->sigma_min, v->sigma_max, u[U_SIGMA]);
    p->solarize = u[U_SOLARIZE] < v->solarize_p;
    p->threshold = v->solarize_threshold;
}

void byol__aug_draw(const byol_augmenter *aug, int64_t epoch, int64_t index, int32_t view,
                    int32_t h, int32_t w, byol__aug_params *p)
{
    double u[BYOL__AUG_UNIFORMS];
    byol__rng r;
    byol__aug_rng(&r, aug->seed, epoch, index, view);
    for (int32_t i = 0; i < BYOL__AUG_UNIFORMS; i++)
        u[i] = byol__rng_uniform(&r);
    byol__aug_from_uniforms(aug, &aug->view[view - 1], h, w, u, p);
}
