/* The BYOL augmenter (DM byol/utils/augmentations.py and dataset.py, see the
 * reference specification section 5): the internal view shared by its files
 * and by the unit tests, which check each operation alone.
 *
 * Random draws and their application are separate: byol__aug_draw() fills a
 * byol__aug_params from (seed, epoch, index, view) and the image size alone;
 * byol__aug_apply() applies a byol__aug_params to an image and has no
 * randomness. So a test can fix the parameters, and a view is the same bytes
 * whatever thread or order computes it.
 *
 * Image layout: sources are byol_image (HWC uint8); every float stage works
 * planar, [c][h][w] with values in [0, 1], so per-channel operations and the
 * separable blur run over contiguous rows, and the CHW output needs no
 * transpose. */
#ifndef BYOL_AUGMENT_H
#define BYOL_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "byol/byol_data.h"
#include "core/internal.h"

enum { BYOL__INTERP_BICUBIC = 0, BYOL__INTERP_BILINEAR = 1 };
enum { BYOL__CROP_REFERENCE = 0, BYOL__CROP_TORCHVISION = 1 };
enum { BYOL__JITTER_TF = 0, BYOL__JITTER_TORCHVISION = 1 };
/* Jitter operations, the values of byol__aug_params.order (DM's indices). */
enum { BYOL__OP_BRIGHTNESS = 0, BYOL__OP_CONTRAST = 1, BYOL__OP_SATURATION = 2, BYOL__OP_HUE = 3 };

/* torchvision's RandomResizedCrop tries this many (area, ratio) draws. */
#define BYOL__CROP_TRIES 10
/* The crop always consumes this many uniforms (2 per try, then 2 offsets),
 * whatever the mode, so every later draw has a fixed stream position. */
#define BYOL__CROP_UNIFORMS (2 * BYOL__CROP_TRIES + 2)
/* Uniforms of one view: the crop block, then flip, jitter coin, 3 for the
 * permutation, 4 jitter values, gray coin, blur coin, sigma, solarise coin. */
#define BYOL__AUG_UNIFORMS (BYOL__CROP_UNIFORMS + 13)

/* One view's settings (augment.view1.* or augment.view2.*). */
typedef struct byol__aug_view {
    double area_min, area_max;    /* crop area as a fraction of the image */
    double ratio_min, ratio_max;  /* crop aspect ratio w/h */
    double flip_p, jitter_p, gray_p, blur_p, solarize_p;
    double brightness, contrast, saturation, hue;  /* jitter strengths */
    double sigma_min, sigma_max;  /* blur sigma in output pixels */
    double solarize_threshold;
} byol__aug_view;

struct byol_augmenter {
    uint64_t seed;
    int32_t channels;     /* 1 or 3 */
    int32_t size;         /* output height and width */
    int32_t taps;         /* blur taps (odd), resolved from augment.blur_taps */
    int32_t interp;       /* BYOL__INTERP_* */
    int32_t crop_mode;    /* BYOL__CROP_* */
    int32_t jitter_mode;  /* BYOL__JITTER_* */
    double eval_crop;     /* evaluation centre crop fraction of the shorter side */
    float mean[3], std[3];
    byol__aug_view view[2];
};

/* A crop box in source pixels: columns [x, x + w), rows [y, y + h). */
typedef struct byol__box {
    int32_t x, y, w, h;
} byol__box;

/* Everything random about one view. Jitter values are what the operation
 * uses: tf mode a brightness delta, contrast and saturation factors and a
 * hue delta; torchvision mode brightness, contrast, saturation factors and
 * a hue delta. */
typedef struct byol__aug_params {
    byol__box box;
    int32_t flip;
    int32_t jitter;
    /* BYOL__OP_* to apply, in order: the drawn permutation without the
     * operations that cannot act (strength 0; saturation and hue on one
     * channel). */
    int32_t nops;
    int32_t order[4];
    double brightness, contrast, saturation, hue;
    int32_t gray;
    int32_t blur;
    double sigma;
    int32_t solarize;
    double threshold;  /* the view's solarisation threshold */
} byol__aug_params;

/* ---- draw.c: random draws ------------------------------------------------- */

/* The stream of (seed, epoch, index, view); epoch in [0, 2^32), index in
 * [0, 2^62), view 1 or 2 (the caller checks). */
void byol__aug_rng(byol__rng *r, uint64_t seed, int64_t epoch, int64_t index, int32_t view);
/* The crop box of an h x w image from BYOL__CROP_UNIFORMS uniforms in [0, 1). */
void byol__aug_crop_box(const byol__aug_view *v, int32_t mode, int32_t h, int32_t w,
                        const double *u, byol__box *box);
/* All parameters from BYOL__AUG_UNIFORMS uniforms (the draw order). */
void byol__aug_from_uniforms(const byol_augmenter *aug, const byol__aug_view *v, int32_t h,
                             int32_t w, const double *u, byol__aug_params *p);
/* The parameters of view `view` (1 or 2) of sample `index` in `epoch`. */
void byol__aug_draw(const byol_augmenter *aug, int64_t epoch, int64_t index, int32_t view,
                    int32_t h, int32_t w, byol__aug_params *p);

/* ---- crop.c: crop geometry and resampling ---------------------------------- */

/* The evaluation crop: DM's _decode_and_center_crop with fraction `frac`. */
void byol__aug_center_box(int32_t h, int32_t w, double frac, byol__box *box);
/* Resamples box of img to size x size. img [H, W, C] uint8 -> out [C, size, size]
 * float in pixel units (0..255, NOT clipped: bicubic overshoots).
 * Returns BYOL_OK or BYOL_E_NOMEM (scratch). */
int byol__aug_resize(const byol_image *img, const byol__box *box, int32_t interp, int32_t size,
                     float *out);

/* ---- color.c: colour operations on planar [c][n] floats in [0, 1] ----------- */

void byol__rgb_to_hsv(float r, float g, float b, float *h, float *s, float *v);
void byol__hsv_to_rgb(float h, float s, float v, float *r, float *g, float *b);
/* One jitter operation with its drawn value, output clipped to [0, 1].
 * x [c, n]; saturation and hue need c == 3 (the caller skips them otherwise). */
void byol__aug_jitter_op(float *x, int32_t c, size_t n, int32_t mode, int32_t op, float value);
/* x [3, n] -> x [3, n], every channel the luma (tf: 0.2989/0.5870/0.1140,
 * torchvision: 0.299/0.587/0.114), clipped. */
void byol__aug_grayscale(float *x, size_t n, int32_t mode);

/* ---- blur.c: Gaussian blur, solarise ----------------------------------------- */

/* Taps for output size `size` and the augment.blur_taps setting (0 = DM's). */
int32_t byol__aug_blur_taps(int32_t size, int32_t setting);
/* k[taps] = exp(-x^2 / (2 sigma^2)) for x = -r..r, normalised to sum 1. */
void byol__aug_blur_kernel(double sigma, int32_t taps, float *k);
/* Separable blur, horizontal then vertical, zero padding ("SAME").
 * x [c, h, w] -> x [c, h, w]; tmp holds h * w floats. */
void byol__aug_blur(float *x, int32_t c, int32_t h, int32_t w, const float *k, int32_t taps,
                    float *tmp);
/* x >= threshold becomes 1 - x (DM: where(x < t, x, 1 - x)). */
void byol__aug_solarize(float *x, size_t n, float threshold);

/* ---- augmenter.c ----------------------------------------------------------------- */

/* Applies p to img: img [H, W, C] uint8 -> out [C, S, S] normalised float.
 * Checks nothing about img (the public functions do). BYOL_OK or BYOL_E_NOMEM. */
int byol__aug_apply(const byol_augmenter *aug, const byol__aug_params *p,
                    const byol_image *img, float *out);

#endif
