/* byol_preview_write and byol_preview_write_sample: a PNG grid, one row per
 * image (its class, its evaluation crop, its views 1 and 2 of epoch 0)
 * under a row naming the columns; small images are upscaled so a glance
 * shows what the augmentations do. Layout constants: preview.h. */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "preview.h"

#define GAP BYOL__PREVIEW_GAP
#define TEXT BYOL__PREVIEW_TEXT

static const char *const column_names[3] = { "eval crop", "view 1", "view 2" };

typedef struct grid {
    byol_image img;
    int64_t c, s, k, cell;     /* channels, view side, upscaling, cell side */
    int64_t left, top;         /* where the first cell starts */
    float *tile;               /* [c, s, s] */
} grid;

/* ---- the sample ---------------------------------------------------------------- */

/* Shuffles a[0..n-1] (Fisher-Yates) with the stream of (seed, what, k). */
static void shuffle(int64_t *a, int64_t n, uint64_t seed, uint32_t what, uint32_t k)
{
    byol__rng r;
    byol__rng_init(&r, seed, 0x50524556u /* "PREV" */, what, k);
    byol__rng_shuffle(&r, a, n);
}

/* The indices grouped by label: class k is by_class[start[k] .. start[k+1]).
 * pos holds `classes` slots of scratch. */
static void group_by_class(const byol_dataset *ds, int64_t n, int32_t classes, int64_t *start,
                           int64_t *pos, int64_t *by_class)
{
    int32_t l;
    memset(start, 0, (size_t)(classes + 1) * sizeof *start);
    for (int64_t i = 0; i < n; i++)
        if (byol_dataset_label(ds, i, &l) == BYOL_OK)
            start[l + 1]++;
    for (int32_t k = 0; k < classes; k++) {
        start[k + 1] += start[k];
        pos[k] = start[k];
    }
    for (int64_t i = 0; i < n; i++)
        if (byol_dataset_label(ds, i, &l) == BYOL_OK)
            by_class[pos[l]++] = i;
}

/* Round r takes the r-th image of each class (shuffled within its class),
 * the classes in a shuffled order, until count are taken. */
static int64_t take_by_class(const int64_t *start, const int64_t *by_class, int32_t classes,
                             const int64_t *order, int64_t count, int64_t *idx)
{
    int64_t got = 0;
    for (int64_t r = 0; got < count; r++)
        for (int32_t j = 0; j < classes && got < count; j++) {
            int64_t k = order[j];
            if (start[k] + r < start[k + 1])
                idx[got++] = by_class[start[k] + r];
        }
    return got;
}

int64_t byol__preview_sample(const byol_dataset *ds, uint64_t seed, int64_t count,
                             int64_t *idx)
{
    int64_t n = byol_dataset_size(ds), got;
    int32_t classes = byol_dataset_num_classes(ds);
    count = count < n ? count : n;
    int64_t *all = byol__malloc((size_t)(n + 2 * (int64_t)classes + 1) * sizeof *all);
    if (!all)
        return byol__err(BYOL_E_NOMEM, "byol_preview_write_sample: out of memory drawing "
                         "from %lld images", (long long)n);
    if (classes == 0) {
        for (int64_t i = 0; i < n; i++)
            all[i] = i;
        shuffle(all, n, seed, 0, 0);
        memcpy(idx, all, (size_t)count * sizeof *idx);
        got = count;
    } else {
        int64_t *start = all + n, *order = start + classes + 1;
        group_by_class(ds, n, classes, start, order, all);
        for (int32_t k = 0; k < classes; k++) {
            shuffle(all + start[k], start[k + 1] - start[k], seed, 1, (uint32_t)k);
            order[k] = k;
        }
        shuffle(order, classes, seed, 2, 0);
        got = take_by_class(start, all, classes, order, count, idx);
    }
    byol__free(all);
    return got;
}

/* ---- drawing ------------------------------------------------------------------- */

/* Text from pixel (x, y), black, at most `chars` characters. */
static void draw_text(grid *g, int64_t x, int64_t y, const char *s, int64_t chars)
{
    const int64_t w = g->img.width, c = g->c;
    for (int64_t i = 0; s[i] && i < chars; i++) {
        const uint8_t *glyph = byol__glyph((unsigned char)s[i]);
        for (int64_t col = 0; col < 5 * TEXT; col++)
            for (int64_t row = 0; row < 7 * TEXT; row++)
                if (glyph[col / TEXT] >> (row / TEXT) & 1)
                    memset(g->img.data + ((y + row) * w + x + i * BYOL__PREVIEW_ADVANCE + col) * c,
                           0, (size_t)c);
    }
}

/* tile [c, s, s] in [0, 1] -> cell (row, col), each pixel k x k */
static void place(grid *g, int64_t row, int64_t col)
{
    const int64_t c = g->c, s = g->s, k = g->k, w = g->img.width;
    uint8_t *dst = g->img.data + ((g->top + row * (g->cell + GAP)) * w + g->left +
                                  col * (g->cell + GAP)) * c;
    for (int64_t y = 0; y < g->cell; y++)
        for (int64_t x = 0; x < g->cell; x++)
            for (int64_t ch = 0; ch < c; ch++) {
                float v = g->tile[(ch * s + y / k) * s + x / k] * 255.0f + 0.5f;
                dst[(y * w + x) * c + ch] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
}

/* The row's label: the class name, or "#index" in an unlabelled dataset. */
static void row_label(const byol_dataset *ds, int64_t idx, char *buf, size_t cap)
{
    int32_t l = -1;
    byol_dataset_label(ds, idx, &l);
    const char *name = byol_dataset_class_name(ds, l);
    if (name)
        snprintf(buf, cap, "%s", name);
    else
        snprintf(buf, cap, "#%lld", (long long)idx);
}

/* Row r: image idx's label, evaluation crop, then views 1 and 2 of epoch 0. */
static int fill_row(grid *g, const byol_augmenter *aug, const byol_dataset *ds, int64_t idx,
                    int64_t r)
{
    char label[BYOL__PREVIEW_LABEL_CHARS + 1];
    byol_image src = { .struct_size = sizeof src };
    row_label(ds, idx, label, sizeof label);
    draw_text(g, GAP, g->top + r * (g->cell + GAP) + (g->cell - 7 * TEXT) / 2, label,
              BYOL__PREVIEW_LABEL_CHARS);
    int rc = byol_dataset_get(ds, idx, &src);
    if (rc == BYOL_OK)
        rc = byol_augmenter_eval(aug, &src, g->tile);
    if (rc == BYOL_OK)
        place(g, r, 0);
    for (int32_t v = 1; rc == BYOL_OK && v <= 2; v++) {
        rc = byol_augmenter_view(aug, &src, 0, idx, v, g->tile);
        if (rc == BYOL_OK)
            place(g, r, v);
    }
    byol_image_release(&src);
    return rc;
}

/* The augmenter of cfg with normalisation turned off (mean 0, std 1), so
 * the views come out in [0, 1] for display. */
static int display_augmenter(const byol_config *cfg, byol_augmenter **aug)
{
    byol_config *c;
    int64_t channels = 3;
    int rc = cfg ? byol_config_copy(cfg, &c) : byol_config_create(&c);
    if (rc != BYOL_OK)
        return rc;
    byol_config_get_int(c, "data.channels", &channels);
    rc = byol_config_set_string(c, "augment.mean", channels == 1 ? "0" : "0,0,0");
    if (rc == BYOL_OK)
        rc = byol_config_set_string(c, "augment.std", channels == 1 ? "1" : "1,1,1");
    if (rc == BYOL_OK)
        rc = byol_augmenter_create(c, aug);
    byol_config_destroy(c);
    return rc;
}

/* Sizes of a grid of `count` rows for views of side dims[1]: the label
 * column fits the longest row label. */
static void lay_out(grid *g, const int64_t dims[3], const byol_dataset *ds, const int64_t *idx,
                    int64_t count)
{
    size_t chars = 0;
    char label[BYOL__PREVIEW_LABEL_CHARS + 1];
    for (int64_t r = 0; r < count; r++) {
        row_label(ds, idx[r], label, sizeof label);
        chars = strlen(label) > chars ? strlen(label) : chars;
    }
    g->c = dims[0];
    g->s = dims[1];
    g->k = (BYOL__PREVIEW_MIN_CELL + g->s - 1) / g->s;
    g->cell = g->s * g->k;
    g->left = GAP + (int64_t)chars * BYOL__PREVIEW_ADVANCE + GAP;
    g->top = GAP + 7 * TEXT + GAP;
    g->img.channels = (int32_t)g->c;
    g->img.width = (int32_t)(g->left + 3 * (g->cell + GAP));
    g->img.height = (int32_t)(g->top + count * (g->cell + GAP));
}

/* The grid of images idx[0 .. count-1], written to path. */
static int write_grid(const byol_config *cfg, const byol_dataset *ds, const int64_t *idx,
                      int64_t count, const char *path)
{
    byol_augmenter *aug = NULL;
    int rc = display_augmenter(cfg, &aug);
    if (rc != BYOL_OK)
        return rc;
    int64_t dims[3];
    byol_augmenter_dims(aug, dims);
    grid g = { .img = { .struct_size = sizeof g.img } };
    lay_out(&g, dims, ds, idx, count);
    size_t bytes = (size_t)g.img.width * (size_t)g.img.height * (size_t)g.c;
    g.img.data = byol__malloc(bytes);
    g.tile = byol__malloc((size_t)(g.c * g.s * g.s) * sizeof(float));
    if (!g.img.data || !g.tile)
        rc = byol__err(BYOL_E_NOMEM, "%s: out of memory for a %dx%d preview grid", path,
                       (int)g.img.width, (int)g.img.height);
    else
        memset(g.img.data, 255, bytes);
    for (int64_t col = 0; rc == BYOL_OK && col < 3; col++)
        draw_text(&g, g.left + col * (g.cell + GAP), GAP, column_names[col],
                  (g.cell + GAP) / BYOL__PREVIEW_ADVANCE);
    for (int64_t r = 0; rc == BYOL_OK && r < count; r++)
        rc = fill_row(&g, aug, ds, idx[r], r);
    if (rc == BYOL_OK)
        rc = byol_image_write_png(path, &g.img);
    byol__free(g.img.data);
    byol__free(g.tile);
    byol_augmenter_destroy(aug);
    return rc;
}

static int check_args(const char *fn, const byol_dataset *ds, int32_t count, const char *path)
{
    if (!ds || !path)
        return byol__err(BYOL_E_INVALID_ARG, "%s: dataset or path is NULL", fn);
    if (count < 1 || count > 256)
        return byol__err(BYOL_E_RANGE, "%s: count %d is outside [1, 256]", fn, (int)count);
    return BYOL_OK;
}

int byol_preview_write(const byol_config *cfg, const byol_dataset *ds, int64_t first,
                       int32_t count, const char *path)
{
    int64_t idx[256];
    int rc = check_args("byol_preview_write", ds, count, path);
    if (rc != BYOL_OK)
        return rc;
    if (first < 0 || first > byol_dataset_size(ds) - count)
        return byol__err(BYOL_E_RANGE, "byol_preview_write: images %lld..%lld are outside the "
                         "dataset's %lld", (long long)first, (long long)first + count - 1,
                         (long long)byol_dataset_size(ds));
    for (int32_t r = 0; r < count; r++)
        idx[r] = first + r;
    return write_grid(cfg, ds, idx, count, path);
}

int byol_preview_write_sample(const byol_config *cfg, const byol_dataset *ds, int32_t count,
                              const char *path)
{
    int64_t idx[256], seed = 0;
    int rc = check_args("byol_preview_write_sample", ds, count, path);
    if (rc != BYOL_OK)
        return rc;
    if (cfg)
        byol_config_get_int(cfg, "seed", &seed);
    int64_t got = byol__preview_sample(ds, (uint64_t)seed, count, idx);
    return got < 0 ? (int)got : write_grid(cfg, ds, idx, got, path);
}
