/* The public writers of byol_file.h: any tensors as safetensors, any bytes
 * as a file, both through io/file.c's atomic write (temporary file, fsync,
 * rename, fsync of the folder), so programs built on the library write
 * their files as safely as the library writes its own. */
#include <string.h>

#include "byol/byol_file.h"
#include "core/internal.h"
#include "io/file.h"
#include "io/safetensors.h"

static int check_path(const char *fn, const char *path)
{
    if (!path || !*path)
        return byol__err(BYOL_E_INVALID_ARG, "%s: %s path", fn, path ? "empty" : "NULL");
    return BYOL_OK;
}

/* Element i of an array whose elements are `stride` bytes apart: a caller
 * with a newer header has a larger byol_file_tensor. */
static const byol_file_tensor *element(const byol_file_tensor *t, size_t stride, int64_t i)
{
    return (const byol_file_tensor *)(const void *)((const char *)t + stride * (size_t)i);
}

static int check_sizes(const char *path, const byol_file_tensor *tensors, int64_t count)
{
    uint32_t size = count > 0 ? tensors[0].struct_size : (uint32_t)sizeof *tensors;
    if (size < sizeof *tensors)
        return byol__err(BYOL_E_ABI, "%s: tensor 0: struct_size %u < %zu", path,
                         (unsigned)size, sizeof *tensors);
    /* Elements are struct_size apart: a value no later struct can have
     * (misaligned, or far beyond this one) would read past the array. */
    if (size % _Alignof(byol_file_tensor) != 0 || size > 16 * sizeof *tensors)
        return byol__err(BYOL_E_ABI, "%s: tensor 0: struct_size %u is not that of a "
                         "byol_file_tensor", path, (unsigned)size);
    for (int64_t i = 1; i < count; i++)
        if (element(tensors, size, i)->struct_size != size)
            return byol__err(BYOL_E_ABI, "%s: tensor %lld: struct_size %u, tensor 0 has %u",
                             path, (long long)i,
                             (unsigned)element(tensors, size, i)->struct_size, (unsigned)size);
    return BYOL_OK;
}

/* The reader's view of each tensor; byol__st_write checks names, dtypes,
 * shapes and sizes before it touches any file. (Where size_t is narrower
 * than nbytes, a cut nbytes no longer matches the shape and is refused.) */
static void to_entries(const byol_file_tensor *tensors, int64_t count, byol__st_tensor *out)
{
    size_t stride = count > 0 ? tensors[0].struct_size : sizeof *tensors;
    for (int64_t i = 0; i < count; i++) {
        const byol_file_tensor *t = element(tensors, stride, i);
        out[i].name = t->name;
        out[i].dtype = t->dtype;
        out[i].ndim = t->ndim;
        for (int d = 0; d < BYOL__ST_MAX_DIMS; d++)
            out[i].shape[d] = t->ndim >= 0 && d < t->ndim ? t->shape[d] : 0;
        out[i].data = t->data;
        out[i].nbytes = (size_t)t->nbytes;
    }
}

int byol_file_write_safetensors(const char *path, const byol_file_tensor *tensors,
                                int64_t count, const char *const *metadata, int64_t n_metadata)
{
    const char *fn = "byol_file_write_safetensors";
    int rc = check_path(fn, path);
    if (rc != BYOL_OK)
        return rc;
    if (count < 0 || n_metadata < 0 || (count > 0 && !tensors) || (n_metadata > 0 && !metadata))
        return byol__err(BYOL_E_INVALID_ARG, "%s: %s: %lld tensors at %p, %lld metadata pairs "
                         "at %p", fn, path, (long long)count, (const void *)tensors,
                         (long long)n_metadata, (const void *)metadata);
    if ((rc = check_sizes(path, tensors, count)) != BYOL_OK)
        return rc;
    byol__st_tensor *entries = byol__calloc(count > 0 ? (size_t)count : 1, sizeof *entries);
    if (!entries)
        return byol__err(BYOL_E_NOMEM, "%s: out of memory listing %lld tensors", path,
                         (long long)count);
    to_entries(tensors, count, entries);
    rc = byol__st_write(path, entries, (size_t)count, metadata, (size_t)n_metadata);
    byol__free(entries);
    return rc;
}

int byol_file_write_atomic(const char *path, const void *const *parts, const size_t *sizes,
                           int64_t nparts)
{
    const char *fn = "byol_file_write_atomic";
    int rc = check_path(fn, path);
    if (rc != BYOL_OK)
        return rc;
    if (nparts < 0 || (nparts > 0 && (!parts || !sizes)))
        return byol__err(BYOL_E_INVALID_ARG, "%s: %s: %lld parts at %p, sizes at %p", fn, path,
                         (long long)nparts, (const void *)parts, (const void *)sizes);
    for (int64_t i = 0; i < nparts; i++)
        if (!parts[i] && sizes[i])
            return byol__err(BYOL_E_INVALID_ARG, "%s: %s: part %lld is NULL but has %zu bytes",
                             fn, path, (long long)i, sizes[i]);
    byol__chunk *chunks = byol__calloc(nparts > 0 ? (size_t)nparts : 1, sizeof *chunks);
    if (!chunks)
        return byol__err(BYOL_E_NOMEM, "%s: out of memory listing %lld parts", path,
                         (long long)nparts);
    for (int64_t i = 0; i < nparts; i++)
        chunks[i] = (byol__chunk){ parts[i], sizes[i] };
    rc = byol__file_write_atomic(path, chunks, (size_t)nparts);
    byol__free(chunks);
    return rc;
}
