/* IDX datasets (MNIST, Fashion-MNIST, ...): an images file of unsigned
 * bytes, N x H x W, and optionally a labels file of N unsigned bytes.
 *
 * Files go through zfile.h, which reads gzip and plain files alike (and
 * refuses a FIFO or a folder at once, and bytes after the gzip stream).
 * A file is read whole at open, but never more of it is kept than its
 * header announces: what follows is only counted, for the size message,
 * so a lying header or a gzip bomb costs no more memory than the data
 * the header claims. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/config.h"
#include "core/internal.h"
#include "dataset.h"
#include "zfile.h"

#define IDX_UBYTE 0x08
#define IDX_HEAD_MAX (4 + 4 * BYOL__IDX_MAX_DIMS)

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t byol__idx_expected_size(const uint8_t *head, size_t head_len)
{
    size_t total = 1, hl;
    if (head_len < 4 || head[0] || head[1] || head[2] != IDX_UBYTE || head[3] < 1 ||
        head[3] > BYOL__IDX_MAX_DIMS)
        return 0;
    hl = 4 + 4 * (size_t)head[3];
    if (head_len < hl)
        return 0;
    for (size_t d = 0; d < head[3]; d++)
        if (byol__mul_size(total, be32(head + 4 + 4 * d), &total) != 0)
            return SIZE_MAX;
    return total > SIZE_MAX - hl ? SIZE_MAX : total + hl;
}

static int check_magic(const uint8_t *buf, size_t len, const char *name, int ndims)
{
    if (len < 4)
        return byol__err(BYOL_E_FORMAT, "%s: %zu bytes is too short for an IDX file (its "
                         "magic number takes 4)", name, len);
    if (buf[0] || buf[1])
        return byol__err(BYOL_E_FORMAT, "%s: not an IDX file: magic number "
                         "0x%02x%02x%02x%02x does not start with two zero bytes", name,
                         buf[0], buf[1], buf[2], buf[3]);
    if (buf[2] != IDX_UBYTE)
        return byol__err(BYOL_E_FORMAT, "%s: IDX element type 0x%02x is not supported "
                         "(only unsigned bytes, 0x08)", name, buf[2]);
    if (buf[3] != ndims)
        return byol__err(BYOL_E_FORMAT, "%s: an IDX file of %d dimensions where %s of %d "
                         "was expected", name, buf[3], ndims == 1 ? "labels" : "images",
                         ndims);
    if (len < 4 + 4 * (size_t)ndims)
        return byol__err(BYOL_E_FORMAT, "%s: %zu bytes is too short for the %zu-byte IDX "
                         "header", name, len, 4 + 4 * (size_t)ndims);
    return BYOL_OK;
}

/* Reads only the header unless len is what the header announces, so a
 * caller that kept fewer bytes than len (see read_idx) may still ask. */
int byol__idx_parse(const uint8_t *buf, size_t len, const char *name, int ndims,
                    byol__idx *out)
{
    size_t expected, hl = 4 + 4 * (size_t)ndims;
    char dims[64] = "";
    int rc = check_magic(buf, len, name, ndims);
    if (rc != BYOL_OK)
        return rc;
    out->ndims = ndims;
    for (int d = 0; d < ndims; d++) {
        out->dims[d] = be32(buf + 4 + 4 * d);
        snprintf(dims + strlen(dims), sizeof dims - strlen(dims), "%s%u", d ? "x" : "",
                 (unsigned)out->dims[d]);
        if (out->dims[d] == 0)
            return byol__err(BYOL_E_FORMAT, "%s: IDX dimensions %s: dimension %d is 0", name,
                             dims, d);
    }
    expected = byol__idx_expected_size(buf, len);
    if (expected == SIZE_MAX)
        return byol__err(BYOL_E_FORMAT, "%s: the IDX header announces %s bytes, more than "
                         "fit in memory; the file holds %zu bytes", name, dims, len);
    if (expected != len)
        return byol__err(BYOL_E_FORMAT, "%s: the IDX header announces %s, %zu bytes with "
                         "the header, but the file holds %zu bytes", name, dims, expected,
                         len);
    out->data = buf + hl;
    out->data_len = len - hl;
    return BYOL_OK;
}

/* ---- reading a file ------------------------------------------------------ */

/* A file read through zfile: its first `stored` bytes kept, `total` counted. */
typedef struct idx_bytes {
    uint8_t *buf;
    size_t stored, cap, total;
} idx_bytes;

/* Reads until `limit` bytes are kept or the data ends. The block grows
 * with what arrives, not with the limit, which a header sets. */
static int keep(byol__zfile *z, const char *path, idx_bytes *f, size_t limit)
{
    while (f->stored < limit) {
        size_t need = limit - f->stored < 65536 ? limit : f->stored + 65536, got;
        int rc;
        if (byol__grow((void **)&f->buf, &f->cap, need, 1) != 0)
            return byol__err(BYOL_E_NOMEM, "%s: out of memory reading %zu bytes", path, need);
        rc = byol__zfile_read(z, f->buf + f->stored,
                              (f->cap < limit ? f->cap : limit) - f->stored, &got);
        if (rc != BYOL_OK || got == 0)
            return rc;
        f->stored += got;
        f->total += got;
    }
    return BYOL_OK;
}

/* Counts the bytes left without keeping them; zfile checks that the data
 * ends cleanly (a cut or padded gzip file is an error). */
static int count_rest(byol__zfile *z, idx_bytes *f)
{
    uint8_t scratch[16384];
    size_t got;
    int rc;
    while ((rc = byol__zfile_read(z, scratch, sizeof scratch, &got)) == BYOL_OK && got > 0)
        f->total += got;
    return rc;
}

static int read_idx(const char *path, idx_bytes *f)
{
    size_t expected;
    byol__zfile *z;
    int rc = byol__zfile_open(path, &z);
    if (rc != BYOL_OK)
        return rc;
    rc = keep(z, path, f, IDX_HEAD_MAX);
    expected = byol__idx_expected_size(f->buf, f->stored);
    /* A header that is not IDX needs nothing more: the message is about it. */
    if (rc == BYOL_OK && expected != 0)
        rc = keep(z, path, f, expected);
    if (rc == BYOL_OK && expected != 0)
        rc = count_rest(z, f);
    byol__zfile_close(z);
    return rc;
}

/* Reads and checks one IDX file of ndims dimensions; on success the caller
 * owns f->buf, which out points into. */
static int load_idx(const char *path, int ndims, idx_bytes *f, byol__idx *out)
{
    int rc = read_idx(path, f);
    if (rc == BYOL_OK)
        rc = byol__idx_parse(f->buf, f->total, path, ndims, out);
    if (rc != BYOL_OK) {
        byol__free(f->buf);
        f->buf = NULL;
    }
    return rc;
}

/* ---- the dataset --------------------------------------------------------- */

static int load_images(byol_dataset *ds, const char *path)
{
    idx_bytes f = { 0 };
    byol__idx idx;
    int rc = load_idx(path, 3, &f, &idx);
    if (rc != BYOL_OK)
        return rc;
    ds->block = f.buf;
    if (idx.dims[1] > INT32_MAX || idx.dims[2] > INT32_MAX)
        return byol__err(BYOL_E_FORMAT, "%s: %ux%u images are too large", path,
                         (unsigned)idx.dims[1], (unsigned)idx.dims[2]);
    ds->pixels = idx.data;
    ds->count = idx.dims[0];
    ds->height = (int32_t)idx.dims[1];
    ds->width = (int32_t)idx.dims[2];
    ds->src_channels = 1;
    return BYOL_OK;
}

static int load_labels(byol_dataset *ds, const char *path, const char *images)
{
    idx_bytes f = { 0 };
    byol__idx idx;
    int32_t top = 0;
    int rc = load_idx(path, 1, &f, &idx);
    if (rc != BYOL_OK)
        return rc;
    if ((int64_t)idx.dims[0] != ds->count)
        rc = byol__err(BYOL_E_FORMAT, "%s: %u labels for the %lld images of %s", path,
                       (unsigned)idx.dims[0], (long long)ds->count, images);
    else if (!(ds->labels = byol__malloc((size_t)ds->count * sizeof *ds->labels)))
        rc = byol__err(BYOL_E_NOMEM, "%s: out of memory for %lld labels", path,
                       (long long)ds->count);
    for (int64_t i = 0; rc == BYOL_OK && i < ds->count; i++) {
        ds->labels[i] = idx.data[i];
        top = ds->labels[i] > top ? ds->labels[i] : top;
    }
    byol__free(f.buf);
    return rc == BYOL_OK ? byol__ds_set_classes(ds, top + 1, NULL) : rc;
}

/* data.labels, else the sibling with "labels-idx1" for "images-idx3" when
 * it exists; *out NULL: unlabeled. */
static int labels_path(const byol_config *cfg, const char *images, char **out)
{
    const char *given = byol__cfg_str(cfg, BYOL__K_DATA_LABELS);
    const char *hit = strstr(byol__path_base(images), "images-idx3");
    struct stat st;
    *out = NULL;
    if (!*given && !hit)
        return BYOL_OK;
    if (!(*out = byol__strdup(*given ? given : images)))
        return byol__err(BYOL_E_NOMEM, "%s: out of memory", images);
    if (*given)
        return BYOL_OK;
    memcpy(*out + (hit - images), "labels-idx1", 11);
    /* Only a missing sibling means unlabelled: one that is there but is a
     * folder, a FIFO, a dangling link or unreadable is refused when it is
     * read, as data.labels is. */
    if (lstat(*out, &st) != 0 && errno == ENOENT) {
        byol__free(*out);
        *out = NULL;
    }
    return BYOL_OK;
}

/* A folder holds MNIST names: <prefix>-images-idx3-ubyte[.gz], the prefix
 * "train" or "t10k" by data.split. */
static int images_in_folder(const byol_config *cfg, const char *dir, char **out)
{
    const char *prefix = strcmp(byol__cfg_str(cfg, BYOL__K_DATA_SPLIT), "test") ? "train" : "t10k";
    char name[64];
    for (int gz = 1; gz >= 0; gz--) {
        snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", prefix, gz ? ".gz" : "");
        if (!(*out = byol__path_join(dir, name)))
            return byol__err(BYOL_E_NOMEM, "%s: out of memory", dir);
        if (byol__path_type(*out) == BYOL__PATH_FILE)
            return BYOL_OK;
        byol__free(*out);
        *out = NULL;
    }
    return byol__err(BYOL_E_IO, "%s: no %s-images-idx3-ubyte[.gz] in the folder (data.split=%s)",
                     dir, prefix, byol__cfg_str(cfg, BYOL__K_DATA_SPLIT));
}

static int open_files(byol_dataset *ds, const byol_config *cfg, const char *images)
{
    char *labels = NULL;
    int rc = load_images(ds, images);
    if (rc == BYOL_OK)
        rc = labels_path(cfg, images, &labels);
    if (rc == BYOL_OK && labels)
        rc = load_labels(ds, labels, images);
    byol__free(labels);
    return rc;
}

int byol__idx_open(const byol_config *cfg, const char *path, byol_dataset **out)
{
    byol_dataset *ds = NULL;
    char *images = NULL;
    int rc = BYOL_OK;
    if (byol__path_type(path) == BYOL__PATH_DIR)
        rc = images_in_folder(cfg, path, &images);
    if (rc == BYOL_OK)
        rc = byol__ds_new(cfg, images ? images : path, BYOL__DS_RECORDS, &ds);
    if (rc == BYOL_OK)
        rc = open_files(ds, cfg, images ? images : path);
    byol__free(images);
    if (rc != BYOL_OK) {
        byol_dataset_destroy(ds);
        return rc;
    }
    *out = ds;
    return BYOL_OK;
}
