/* byol_dataset_from_memory: caller pixels (N, H, W, C uint8) and labels,
 * copied into a RECORDS dataset so the caller may free its arrays. */
#include <string.h>

#include "core/internal.h"
#include "dataset.h"

#define MEMORY_NAME "<memory>"

static int check_args(const uint8_t *pixels, int64_t count, int32_t height, int32_t width,
                      int32_t channels, byol_dataset **out)
{
    if (!out || !pixels)
        return byol__err(BYOL_E_INVALID_ARG, "byol_dataset_from_memory: pixels or out is NULL");
    if (count < 1 || height < 1 || width < 1 || (channels != 1 && channels != 3))
        return byol__err(BYOL_E_SHAPE, "byol_dataset_from_memory: %lld images of %dx%dx%d "
                         "(sizes must be >= 1, channels 1 or 3)", (long long)count,
                         (int)height, (int)width, (int)channels);
    return BYOL_OK;
}

/* Copies the labels and counts the classes (largest label + 1). */
static int copy_labels(byol_dataset *ds, const int32_t *labels, int64_t count)
{
    int32_t top = -1;
    size_t bytes;
    for (int64_t i = 0; i < count; i++) {
        if (labels[i] < 0 || labels[i] >= BYOL__MAX_CLASSES)
            return byol__err(BYOL_E_INVALID_ARG, "byol_dataset_from_memory: label %d of "
                             "image %lld is outside [0, %d)", (int)labels[i], (long long)i,
                             BYOL__MAX_CLASSES);
        if (labels[i] > top)
            top = labels[i];
    }
    if (byol__mul_size((size_t)count, sizeof *labels, &bytes) != 0 ||
        !(ds->labels = byol__malloc(bytes)))
        return byol__err(BYOL_E_NOMEM, "%s: out of memory for %lld labels", ds->name,
                         (long long)count);
    memcpy(ds->labels, labels, bytes);
    return byol__ds_set_classes(ds, top + 1, NULL);
}

static int copy_pixels(byol_dataset *ds, const uint8_t *pixels, int64_t count)
{
    size_t each = (size_t)ds->height * (size_t)ds->width * (size_t)ds->src_channels, total;
    if ((uint64_t)count > SIZE_MAX || byol__mul_size(each, (size_t)count, &total) != 0)
        return byol__err(BYOL_E_SHAPE, "byol_dataset_from_memory: %lld images of %zu bytes "
                         "do not fit in memory", (long long)count, each);
    ds->block = byol__malloc(total);
    if (!ds->block)
        return byol__err(BYOL_E_NOMEM, "%s: out of memory copying %zu bytes of pixels",
                         ds->name, total);
    memcpy(ds->block, pixels, total);
    ds->pixels = ds->block;
    return BYOL_OK;
}

int byol_dataset_from_memory(const byol_config *cfg, const uint8_t *pixels, int64_t count,
                             int32_t height, int32_t width, int32_t channels,
                             const int32_t *labels, byol_dataset **out)
{
    byol_dataset *ds = NULL;
    int rc = check_args(pixels, count, height, width, channels, out);
    if (rc != BYOL_OK)
        return rc;
    *out = NULL;
    if ((rc = byol__ds_new(cfg, MEMORY_NAME, BYOL__DS_RECORDS, &ds)) != BYOL_OK)
        return rc;
    ds->count = count;
    ds->height = height;
    ds->width = width;
    ds->src_channels = channels;
    rc = copy_pixels(ds, pixels, count);
    if (rc == BYOL_OK && labels)
        rc = copy_labels(ds, labels, count);
    if (rc != BYOL_OK) {
        byol_dataset_destroy(ds);
        return rc;
    }
    *out = ds;
    return BYOL_OK;
}
