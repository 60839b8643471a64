/* byol_preview_write: a PNG grid of source images next to their two views. */
#include <string.h>

#include "byol/byol_data.h"
#include "core/internal.h"

#define GAP 2 /* white pixels between and around the tiles */

typedef struct grid {
    byol_image img;
    int64_t c, s;
    float *tile;               /* [c, s, s] */
} grid;

/* tile [c, s, s] in [0, 1] -> the grid's pixels at (row, col) */
static void place(grid *g, int64_t row, int64_t col)
{
    const int64_t c = g->c, s = g->s, w = g->img.width;
    uint8_t *dst = g->img.data + ((GAP + row * (s + GAP)) * w + GAP + col * (s + GAP)) * c;
    for (int64_t y = 0; y < s; y++)
        for (int64_t x = 0; x < s; x++)
            for (int64_t k = 0; k < c; k++) {
                float v = g->tile[(k * s + y) * s + x] * 255.0f + 0.5f;
                dst[(y * w + x) * c + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
}

/* Row r: the evaluation crop of image idx, then its views 1 and 2 of epoch 0. */
static int fill_row(grid *g, const byol_augmenter *aug, const byol_dataset *ds, int64_t idx,
                    int64_t r)
{
    byol_image src = { .struct_size = sizeof src };
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

int byol_preview_write(const byol_config *cfg, const byol_dataset *ds, int64_t first,
                       int32_t count, const char *path)
{
    if (!ds || !path)
        return byol__err(BYOL_E_INVALID_ARG, "byol_preview_write: dataset or path is NULL");
    if (count < 1 || count > 256 || first < 0 || first > byol_dataset_size(ds) - count)
        return byol__err(BYOL_E_RANGE, "byol_preview_write: images %lld..%lld are outside the "
                         "dataset's %lld, or count %d is outside [1, 256]", (long long)first,
                         (long long)first + count - 1, (long long)byol_dataset_size(ds),
                         (int)count);
    byol_augmenter *aug = NULL;
    int rc = display_augmenter(cfg, &aug);
    if (rc != BYOL_OK)
        return rc;
    int64_t dims[3];
    byol_augmenter_dims(aug, dims);
    grid g = { .img = { .struct_size = sizeof g.img }, .c = dims[0], .s = dims[1] };
    g.img.channels = (int32_t)g.c;
    g.img.width = (int32_t)(GAP + 3 * (g.s + GAP));
    g.img.height = (int32_t)(GAP + count * (g.s + GAP));
    size_t bytes = (size_t)g.img.width * (size_t)g.img.height * (size_t)g.c;
    g.img.data = byol__malloc(bytes);
    g.tile = byol__malloc((size_t)(g.c * g.s * g.s) * sizeof(float));
    if (!g.img.data || !g.tile)
        rc = byol__err(BYOL_E_NOMEM, "byol_preview_write: out of memory for a %dx%d grid",
                       (int)g.img.width, (int)g.img.height);
    else
        memset(g.img.data, 255, bytes);
    for (int32_t r = 0; rc == BYOL_OK && r < count; r++)
        rc = fill_row(&g, aug, ds, first + r, r);
    if (rc == BYOL_OK)
        rc = byol_image_write_png(path, &g.img);
    byol__free(g.img.data);
    byol__free(g.tile);
    byol_augmenter_destroy(aug);
    return rc;
}
