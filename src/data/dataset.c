/* byol_dataset: the handle, its accessors and random access to one image,
 * whatever the format (see dataset.h). */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "dataset.h"
#include "image.h"

int byol__ds_new(const byol_config *cfg, const char *name, int kind, byol_dataset **out)
{
    int32_t channels;
    int64_t max_pixels;
    int rc = byol__image_settings(cfg, &channels, &max_pixels);
    byol_dataset *ds;
    if (rc != BYOL_OK)
        return rc;
    ds = byol__calloc(1, sizeof *ds);
    if (!ds || !(ds->name = byol__strdup(name))) {
        byol__free(ds);
        return byol__err(BYOL_E_NOMEM, "%s: out of memory for the dataset", name);
    }
    ds->kind = kind;
    ds->channels = channels;
    ds->max_pixels = max_pixels;
    *out = ds;
    return BYOL_OK;
}

int byol__grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t ncap = *cap ? *cap : 16, bytes;
    void *q;
    if (need <= *cap)
        return 0;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : 2 * ncap;
    if (byol__mul_size(ncap, elem, &bytes) != 0 || !(q = byol__malloc(bytes)))
        return -1;
    if (*p)
        memcpy(q, *p, *cap * elem);
    byol__free(*p);
    *p = q;
    *cap = ncap;
    return 0;
}

/* Names given, or the label numbers as text ("0", "1", ...). */
static size_t class_text(const char *const *names, int32_t k, char *dst, size_t cap)
{
    if (names)
        return (size_t)snprintf(dst, cap, "%s", names[k]);
    return (size_t)snprintf(dst, cap, "%d", (int)k);
}

int byol__ds_set_classes(byol_dataset *ds, int32_t n, const char *const *names)
{
    size_t text = 0, head = (size_t)n * sizeof(char *);
    char *base, *p;
    if (n == 0)
        return BYOL_OK;
    for (int32_t k = 0; k < n; k++)
        text += class_text(names, k, NULL, 0) + 1;
    /* One block: the pointer array, then the strings it points to. */
    ds->class_names = byol__malloc(head + text);
    if (!ds->class_names)
        return byol__err(BYOL_E_NOMEM, "%s: out of memory for %d class names", ds->name,
                         (int)n);
    base = p = (char *)ds->class_names + head;
    for (int32_t k = 0; k < n; k++) {
        ds->class_names[k] = p;
        p += class_text(names, k, p, text - (size_t)(p - base)) + 1;
    }
    ds->num_classes = n;
    return BYOL_OK;
}

void byol_dataset_destroy(byol_dataset *ds)
{
    if (!ds)
        return;
    byol__free(ds->name);
    byol__free(ds->labels);
    byol__free(ds->class_names);
    byol__free(ds->paths);
    byol__free(ds->path_at);
    byol__free(ds->block);
    byol__free(ds);
}

int64_t byol_dataset_size(const byol_dataset *ds) { return ds ? ds->count : 0; }

int32_t byol_dataset_num_classes(const byol_dataset *ds) { return ds ? ds->num_classes : 0; }

const char *byol_dataset_class_name(const byol_dataset *ds, int32_t label)
{
    if (!ds || label < 0 || label >= ds->num_classes)
        return NULL;
    return ds->class_names[label];
}

static int check_index(const byol_dataset *ds, int64_t index, const char *fn)
{
    if (index < 0 || index >= ds->count)
        return byol__err(BYOL_E_RANGE, "%s: index %lld is outside [0, %lld) of dataset %s",
                         fn, (long long)index, (long long)ds->count, ds->name);
    return BYOL_OK;
}

const char *byol_dataset_source(const byol_dataset *ds, int64_t index)
{
    if (!ds || ds->kind != BYOL__DS_FILES || index < 0 || index >= ds->count)
        return NULL;
    return ds->paths + ds->path_at[index] + ds->root_len;
}

int byol_dataset_label(const byol_dataset *ds, int64_t index, int32_t *label)
{
    int rc;
    if (!ds || !label)
        return byol__err(BYOL_E_INVALID_ARG, "byol_dataset_label: dataset or label is NULL");
    if ((rc = check_index(ds, index, "byol_dataset_label")) != BYOL_OK)
        return rc;
    *label = ds->labels ? ds->labels[index] : -1;
    return BYOL_OK;
}

static int get_record(const byol_dataset *ds, int64_t index, byol_image *out)
{
    size_t npix = (size_t)ds->height * (size_t)ds->width;
    const uint8_t *rec = ds->pixels + (size_t)index * npix * (size_t)ds->src_channels;
    if (byol__image_alloc(out, ds->height, ds->width, ds->channels, ds->name) != BYOL_OK)
        return byol__err(BYOL_E_NOMEM, "%s: record %lld: out of memory for a %dx%dx%d image",
                         ds->name, (long long)index, (int)ds->height, (int)ds->width,
                         (int)ds->channels);
    if (ds->planar)
        byol__pixels_convert(rec, ds->src_channels, 1, npix, npix, out->data, ds->channels);
    else
        byol__pixels_convert(rec, ds->src_channels, (size_t)ds->src_channels, 1, npix,
                             out->data, ds->channels);
    return BYOL_OK;
}

int byol_dataset_get(const byol_dataset *ds, int64_t index, byol_image *out)
{
    int rc = byol__image_check_out("byol_dataset_get", out);
    if (rc != BYOL_OK)
        return rc;
    if (!ds)
        return byol__err(BYOL_E_INVALID_ARG, "byol_dataset_get: dataset is NULL");
    if ((rc = check_index(ds, index, "byol_dataset_get")) != BYOL_OK)
        return rc;
    if (ds->kind == BYOL__DS_FILES)
        return byol__image_decode_file(ds->paths + ds->path_at[index], ds->channels,
                                       ds->max_pixels, out);
    return get_record(ds, index, out);
}
