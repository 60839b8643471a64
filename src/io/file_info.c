/* byol_file (byol_file.h): a safetensors file described through the public
 * API. The handle is a thin shell over the reader that byol_net_load() and
 * byol_trainer_load() use (safetensors.c), so a file is refused here
 * exactly when, and with the message that, those loads refuse it before
 * matching tensors. */
#include <string.h>

#include "byol/byol_file.h"
#include "core/internal.h"
#include "io/safetensors.h"

/* The public dtype codes are the reader's own. */
_Static_assert(BYOL_DTYPE_F32 == BYOL__ST_F32 && BYOL_DTYPE_F64 == BYOL__ST_F64 &&
                   BYOL_DTYPE_I64 == BYOL__ST_I64 && BYOL_DTYPE_I32 == BYOL__ST_I32 &&
                   BYOL_DTYPE_U8 == BYOL__ST_U8,
               "byol_file.h dtypes differ from the safetensors reader's");
_Static_assert(BYOL_FILE_MAX_DIMS == BYOL__ST_MAX_DIMS, "byol_file.h dimension limit");

struct byol_file {
    byol__st_file *st;
};

int byol_file_open(const char *path, byol_file **out)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return byol__err(BYOL_E_INVALID_ARG, "byol_file_open: NULL %s", path ? "out" : "path");
    byol_file *f = byol__calloc(1, sizeof *f);
    if (!f)
        return byol__err(BYOL_E_NOMEM, "%s: out of memory for the file handle", path);
    int rc = byol__st_open(path, &f->st);
    if (rc != BYOL_OK) {
        byol__free(f);
        return rc;
    }
    *out = f;
    return BYOL_OK;
}

void byol_file_close(byol_file *f)
{
    if (!f)
        return;
    byol__st_close(f->st);
    byol__free(f);
}

int32_t byol_file_kind(const byol_file *f)
{
    if (!f)
        return 0;
    const char *format = byol__st_meta(f->st, "format");
    if (format && !strcmp(format, BYOL__CHECKPOINT_FORMAT))
        return BYOL_FILE_CHECKPOINT;
    if (format && !strncmp(format, BYOL__CHECKPOINT_PREFIX, strlen(BYOL__CHECKPOINT_PREFIX)))
        return BYOL_FILE_CHECKPOINT_OTHER;
    return BYOL_FILE_TENSORS;
}

int64_t byol_file_size(const byol_file *f) { return f ? (int64_t)byol__st_size(f->st) : 0; }

int64_t byol_file_tensor_count(const byol_file *f)
{
    return f ? (int64_t)byol__st_count(f->st) : 0;
}

/* The reader checked that nbytes is the shape's element count times the
 * element size and lies inside the file, so numel = nbytes / size fits. */
static void describe(const byol__st_tensor *t, byol_file_tensor *info)
{
    info->dtype = t->dtype;
    info->name = t->name;
    info->ndim = t->ndim;
    info->reserved = 0;
    for (int d = 0; d < BYOL_FILE_MAX_DIMS; d++)
        info->shape[d] = d < t->ndim ? t->shape[d] : 0;
    info->nbytes = (uint64_t)t->nbytes;
    info->numel = (int64_t)(t->nbytes / byol__st_dtype_size(t->dtype));
    info->data = t->data;
}

/* Callers with a newer header pass a larger struct: its extra fields are
 * theirs, and only the fields of this version are written. */
static int check_struct(const char *fn, const byol_file_tensor *info)
{
    if (info->struct_size < sizeof *info)
        return byol__err(BYOL_E_ABI, "%s: struct_size %u < %zu", fn,
                         (unsigned)info->struct_size, sizeof *info);
    return BYOL_OK;
}

int byol_file_tensor_info(const byol_file *f, int64_t index, byol_file_tensor *info)
{
    if (!f || !info)
        return byol__err(BYOL_E_INVALID_ARG, "byol_file_tensor_info: NULL argument");
    int rc = check_struct("byol_file_tensor_info", info);
    if (rc != BYOL_OK)
        return rc;
    int64_t n = byol_file_tensor_count(f);
    if (index < 0 || index >= n)
        return byol__err(BYOL_E_RANGE, "byol_file_tensor_info: %s: index %lld outside [0, %lld)",
                         byol__st_label(f->st), (long long)index, (long long)n);
    describe(byol__st_get(f->st, (size_t)index), info);
    return BYOL_OK;
}

int byol_file_tensor_find(const byol_file *f, const char *name, byol_file_tensor *info)
{
    if (!f || !name || !info)
        return byol__err(BYOL_E_INVALID_ARG, "byol_file_tensor_find: NULL argument");
    int rc = check_struct("byol_file_tensor_find", info);
    if (rc != BYOL_OK)
        return rc;
    const byol__st_tensor *t = byol__st_find(f->st, name);
    if (!t)
        return byol__err(BYOL_E_KEY, "%s: no tensor '%s'", byol__st_label(f->st), name);
    describe(t, info);
    return BYOL_OK;
}

int64_t byol_file_metadata_count(const byol_file *f)
{
    return f ? (int64_t)byol__st_meta_count(f->st) : 0;
}

int byol_file_metadata_entry(const byol_file *f, int64_t index, const char **key,
                             const char **value)
{
    if (!f || !key || !value)
        return byol__err(BYOL_E_INVALID_ARG, "byol_file_metadata_entry: NULL argument");
    int64_t n = byol_file_metadata_count(f);
    if (index < 0 || index >= n)
        return byol__err(BYOL_E_RANGE,
                         "byol_file_metadata_entry: %s: index %lld outside [0, %lld)",
                         byol__st_label(f->st), (long long)index, (long long)n);
    return byol__st_meta_at(f->st, (size_t)index, key, value);
}

int byol_file_metadata_find(const byol_file *f, const char *key, const char **value)
{
    if (value)
        *value = NULL;
    if (!f || !key || !value)
        return byol__err(BYOL_E_INVALID_ARG, "byol_file_metadata_find: NULL argument");
    *value = byol__st_meta(f->st, key);
    if (!*value)
        return byol__err(BYOL_E_KEY, "%s: no metadata key '%s'", byol__st_label(f->st), key);
    return BYOL_OK;
}
