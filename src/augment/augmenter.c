/* byol_augmenter: settings from the configuration, the two view pipelines
 * and the evaluation transform (public API in byol/byol_data.h).
 *
 * A view, in DM's order: crop (uint8) -> resize -> /255 -> clip -> flip ->
 * jitter (random op order, clip after each) -> grayscale -> blur ->
 * solarise -> clip -> (x - mean) / std. Everything after the resize works
 * in place in the caller's output; the scratch each call needs is its own
 * (byol__malloc per call), so one const augmenter serves many threads. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment/augment.h"
#include "core/config.h"

/* ---- settings ---------------------------------------------------------------- */

static const char *skip_spaces(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return s;
}

/* Reads "a,b,c" into vals: exactly `want` finite numbers, each in the form
 * of a float setting (byol_config_parse()), with spaces around them. */
static int parse_list(const char *key, const char *text, int32_t want, float *vals)
{
    int32_t n = 0;
    for (const char *p = skip_spaces(text);; n++) {
        const size_t len = byol__float_text_len(p);
        const double v = len ? strtod(p, NULL) : 0;
        const char *end = skip_spaces(p + len);
        if (!len || !isfinite(v) || (*end && *end != ','))
            return byol__err(BYOL_E_RANGE, "key '%s': '%s' is not a comma-separated list of numbers",
                             key, text);
        if (n < 3)
            vals[n] = (float)v;
        if (*end == '\0')
            break;
        p = skip_spaces(end + 1);
    }
    if (n + 1 != want)
        return byol__err(BYOL_E_RANGE, "key '%s': %d values for data.channels=%d (one per channel)",
                         key, n + 1, want);
    return BYOL_OK;
}

static int read_norm(const byol_config *cfg, byol_augmenter *a)
{
    int rc = parse_list("augment.mean", byol__cfg_str(cfg, BYOL__K_AUGMENT_MEAN), a->channels, a->mean);
    if (rc == BYOL_OK)
        rc = parse_list("augment.std", byol__cfg_str(cfg, BYOL__K_AUGMENT_STD), a->channels, a->std);
    for (int32_t c = 0; rc == BYOL_OK && c < a->channels; c++)
        if (!(a->std[c] > 0))
            rc = byol__err(BYOL_E_RANGE, "key 'augment.std': value %d is %g; it must be above 0",
                           c + 1, (double)a->std[c]);
    return rc;
}

/* View v's (1 or 2) value of a per-view key, named by its view-1 id. */
#define VIEW_KEY(cfg, v, name) \
    byol__cfg_float(cfg, (v) == 1 ? BYOL__K_AUGMENT_VIEW1_##name : BYOL__K_AUGMENT_VIEW2_##name)

/* lo <= hi, or an error naming both keys. */
static int check_order(int32_t view, const char *lo_name, double lo, const char *hi_name, double hi)
{
    if (lo <= hi)
        return BYOL_OK;
    return byol__err(BYOL_E_RANGE, "key 'augment.view%d.%s' (%g) is above 'augment.view%d.%s' (%g)",
                     (int)view, lo_name, lo, (int)view, hi_name, hi);
}

static int read_view(const byol_config *cfg, int32_t view, byol__aug_view *v)
{
    v->area_min = VIEW_KEY(cfg, view, CROP_AREA_MIN);
    v->area_max = VIEW_KEY(cfg, view, CROP_AREA_MAX);
    v->ratio_min = VIEW_KEY(cfg, view, CROP_RATIO_MIN);
    v->ratio_max = VIEW_KEY(cfg, view, CROP_RATIO_MAX);
    v->flip_p = VIEW_KEY(cfg, view, FLIP_P);
    v->jitter_p = VIEW_KEY(cfg, view, JITTER_P);
    v->brightness = VIEW_KEY(cfg, view, BRIGHTNESS);
    v->contrast = VIEW_KEY(cfg, view, CONTRAST);
    v->saturation = VIEW_KEY(cfg, view, SATURATION);
    v->hue = VIEW_KEY(cfg, view, HUE);
    v->gray_p = VIEW_KEY(cfg, view, GRAY_P);
    v->blur_p = VIEW_KEY(cfg, view, BLUR_P);
    v->sigma_min = VIEW_KEY(cfg, view, BLUR_SIGMA_MIN);
    v->sigma_max = VIEW_KEY(cfg, view, BLUR_SIGMA_MAX);
    v->solarize_p = VIEW_KEY(cfg, view, SOLARIZE_P);
    v->solarize_threshold = VIEW_KEY(cfg, view, SOLARIZE_THRESHOLD);
    int rc = check_order(view, "crop_area_min", v->area_min, "crop_area_max", v->area_max);
    if (rc == BYOL_OK)
        rc = check_order(view, "crop_ratio_min", v->ratio_min, "crop_ratio_max", v->ratio_max);
    if (rc == BYOL_OK)
        rc = check_order(view, "blur_sigma_min", v->sigma_min, "blur_sigma_max", v->sigma_max);
    return rc;
}

static int32_t choice(const byol_config *cfg, byol__key_id key, const char *second)
{
    return strcmp(byol__cfg_str(cfg, key), second) == 0;
}

static int read_settings(const byol_config *cfg, byol_augmenter *a)
{
    const int64_t channels = byol__cfg_int(cfg, BYOL__K_DATA_CHANNELS);
    if (channels != 1 && channels != 3)
        return byol__err(BYOL_E_RANGE, "key 'data.channels': %lld; the augmenter takes 1 or 3",
                         (long long)channels);
    a->channels = (int32_t)channels;
    a->seed = (uint64_t)byol__cfg_int(cfg, BYOL__K_SEED);
    a->size = (int32_t)byol__cfg_int(cfg, BYOL__K_AUGMENT_SIZE);
    a->interp = choice(cfg, BYOL__K_AUGMENT_INTERPOLATION, "bilinear") ? BYOL__INTERP_BILINEAR
                                                                   : BYOL__INTERP_BICUBIC;
    a->crop_mode = choice(cfg, BYOL__K_AUGMENT_CROP, "torchvision") ? BYOL__CROP_TORCHVISION
                                                               : BYOL__CROP_REFERENCE;
    a->jitter_mode = choice(cfg, BYOL__K_AUGMENT_JITTER, "torchvision") ? BYOL__JITTER_TORCHVISION
                                                                   : BYOL__JITTER_TF;
    a->eval_crop = byol__cfg_float(cfg, BYOL__K_AUGMENT_EVAL_CROP);
    const int64_t taps = byol__cfg_int(cfg, BYOL__K_AUGMENT_BLUR_TAPS);
    if (taps > 0 && taps % 2 == 0)
        return byol__err(BYOL_E_RANGE, "key 'augment.blur_taps': %lld; taps must be odd (2r + 1) "
                         "or 0 for the reference's", (long long)taps);
    a->taps = byol__aug_blur_taps(a->size, (int32_t)taps);
    int rc = read_norm(cfg, a);
    for (int32_t v = 0; rc == BYOL_OK && v < 2; v++)
        rc = read_view(cfg, v + 1, &a->view[v]);
    return rc;
}

/* ---- the pipeline --------------------------------------------------------------- */

/* x [n]: x / 255 clipped to [0, 1] (DM: clip(image / 255, 0, 1); bicubic overshoots). */
static void to_unit(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const float v = x[i] / 255.0f;
        x[i] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
}

/* x [rows, w]: each row reversed (a left-right flip of every channel). */
static void flip_rows(float *x, size_t rows, int32_t w)
{
    for (size_t r = 0; r < rows; r++) {
        float *p = x + r * (size_t)w;
        for (int32_t i = 0, j = w - 1; i < j; i++, j--) {
            const float t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
    }
}

/* x [c, n] clipped to [0, 1] -> (x - mean_c) / std_c. */
static void normalise(const byol_augmenter *aug, float *x, size_t n)
{
    for (int32_t c = 0; c < aug->channels; c++) {
        float *p = x + (size_t)c * n;
        for (size_t i = 0; i < n; i++) {
            const float v = p[i] < 0.0f ? 0.0f : p[i] > 1.0f ? 1.0f : p[i];
            p[i] = (v - aug->mean[c]) / aug->std[c];
        }
    }
}

static const double *jitter_value(const byol__aug_params *p, int32_t op)
{
    return op == BYOL__OP_BRIGHTNESS ? &p->brightness
         : op == BYOL__OP_CONTRAST   ? &p->contrast
         : op == BYOL__OP_SATURATION ? &p->saturation
                                     : &p->hue;
}

static int blur(const byol_augmenter *aug, float *x, double sigma)
{
    const size_t n = (size_t)aug->size * (size_t)aug->size;
    float *tmp = byol__malloc((n + (size_t)aug->taps) * sizeof(float));
    if (!tmp)
        return byol__err(BYOL_E_NOMEM, "augmenter: no memory for a %d x %d blur", aug->size,
                         aug->size);
    float *k = tmp + n;
    byol__aug_blur_kernel(sigma, aug->taps, k);
    byol__aug_blur(x, aug->channels, aug->size, aug->size, k, aug->taps, tmp);
    byol__free(tmp);
    return BYOL_OK;
}

int byol__aug_apply(const byol_augmenter *aug, const byol__aug_params *p,
                    const byol_image *img, float *out)
{
    const int32_t c = aug->channels, s = aug->size;
    const size_t n = (size_t)s * (size_t)s;
    int rc = byol__aug_resize(img, &p->box, aug->interp, s, out);
    if (rc != BYOL_OK)
        return rc;
    to_unit(out, (size_t)c * n);
    if (p->flip)
        flip_rows(out, (size_t)c * (size_t)s, s);
    for (int32_t i = 0; p->jitter && i < p->nops; i++)
        byol__aug_jitter_op(out, c, n, aug->jitter_mode, p->order[i],
                            (float)*jitter_value(p, p->order[i]));
    if (p->gray && c == 3)
        byol__aug_grayscale(out, n, aug->jitter_mode);
    if (p->blur && (rc = blur(aug, out, p->sigma)) != BYOL_OK)
        return rc;
    if (p->solarize)
        byol__aug_solarize(out, (size_t)c * n, (float)p->threshold);
    normalise(aug, out, n);
    return BYOL_OK;
}

/* ---- public API ------------------------------------------------------------------- */

int byol_augmenter_create(const byol_config *cfg, byol_augmenter **out)
{
    if (!out)
        return byol__err(BYOL_E_INVALID_ARG, "byol_augmenter_create: out is NULL");
    *out = NULL;
    byol_augmenter a;
    memset(&a, 0, sizeof a);
    int rc = read_settings(cfg, &a);
    if (rc != BYOL_OK)
        return rc;
    byol_augmenter *aug = byol__malloc(sizeof *aug);
    if (!aug)
        return byol__err(BYOL_E_NOMEM, "byol_augmenter_create: no memory");
    *aug = a;
    *out = aug;
    return BYOL_OK;
}

void byol_augmenter_destroy(byol_augmenter *aug)
{
    byol__free(aug);
}

int byol_augmenter_dims(const byol_augmenter *aug, int64_t dims[3])
{
    if (!aug || !dims)
        return byol__err(BYOL_E_INVALID_ARG, "byol_augmenter_dims: %s is NULL",
                         !aug ? "aug" : "dims");
    dims[0] = aug->channels;
    dims[1] = dims[2] = aug->size;
    return BYOL_OK;
}

static int check_image(const byol_augmenter *aug, const byol_image *img, const float *out,
                       const char *fn)
{
    if (!aug || !img || !out)
        return byol__err(BYOL_E_INVALID_ARG, "%s: %s is NULL", fn,
                         !aug ? "aug" : !img ? "img" : "out");
    if (!img->data)
        return byol__err(BYOL_E_INVALID_ARG, "%s: the image has no pixels (data is NULL)", fn);
    if (img->height < 1 || img->width < 1)
        return byol__err(BYOL_E_SHAPE, "%s: a %d x %d image (need at least 1 x 1)", fn,
                         (int)img->height, (int)img->width);
    if (img->channels != aug->channels)
        return byol__err(BYOL_E_SHAPE, "%s: the image has %d channels, data.channels is %d", fn,
                         (int)img->channels, (int)aug->channels);
    return BYOL_OK;
}

int byol_augmenter_view(const byol_augmenter *aug, const byol_image *img, int64_t epoch,
                        int64_t index, int32_t view, float *out)
{
    int rc = check_image(aug, img, out, "byol_augmenter_view");
    if (rc != BYOL_OK)
        return rc;
    if (view != 1 && view != 2)
        return byol__err(BYOL_E_INVALID_ARG, "byol_augmenter_view: view %d (1 or 2)", (int)view);
    if (epoch < 0 || epoch > (int64_t)UINT32_MAX)
        return byol__err(BYOL_E_INVALID_ARG, "byol_augmenter_view: epoch %lld outside [0, 2^32)",
                         (long long)epoch);
    if (index < 0 || index >= ((int64_t)1 << 62))
        return byol__err(BYOL_E_INVALID_ARG, "byol_augmenter_view: index %lld outside [0, 2^62)",
                         (long long)index);
    byol__aug_params p;
    byol__aug_draw(aug, epoch, index, view, img->height, img->width, &p);
    return byol__aug_apply(aug, &p, img, out);
}

int byol_augmenter_eval(const byol_augmenter *aug, const byol_image *img, float *out)
{
    int rc = check_image(aug, img, out, "byol_augmenter_eval");
    if (rc != BYOL_OK)
        return rc;
    const size_t n = (size_t)aug->size * (size_t)aug->size;
    byol__box box;
    byol__aug_center_box(img->height, img->width, aug->eval_crop, &box);
    rc = byol__aug_resize(img, &box, aug->interp, aug->size, out);
    if (rc != BYOL_OK)
        return rc;
    to_unit(out, (size_t)aug->channels * n);
    normalise(aug, out, n);
    return BYOL_OK;
}
