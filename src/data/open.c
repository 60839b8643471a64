/* byol_dataset_open: data.format picks the reader; "auto" decides by what
 * the path holds:
 * - a folder holding CIFAR batch names (data_batch_1.bin, test_batch.bin,
 *   train.bin, test.bin) is CIFAR; one holding MNIST names
 *   ({train,t10k}-images-idx3-ubyte[.gz]) is IDX; any other folder is an
 *   image folder;
 * - a file named *.bin is a CIFAR batch (tested first: a CIFAR record may
 *   begin with the bytes of an IDX magic number, an IDX file is never
 *   named .bin by its publishers); a file whose first bytes, gunzipped if
 *   need be, are an IDX magic number is IDX; anything else is refused. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "core/config.h"
#include "core/internal.h"
#include "dataset.h"
#include "image.h"
#include "zfile.h"

static int folder_has(const char *dir, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *p = byol__path_join(dir, names[i]);
        int found = p && byol__path_type(p) == BYOL__PATH_FILE;
        byol__free(p);
        if (found)
            return 1;
    }
    return 0;
}

static const char *folder_format(const char *dir)
{
    static const char *const cifar[] = { "data_batch_1.bin", "test_batch.bin", "train.bin",
                                         "test.bin" };
    static const char *const mnist[] = { "train-images-idx3-ubyte", "train-images-idx3-ubyte.gz",
                                         "t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz" };
    if (folder_has(dir, cifar, 4))
        return "cifar";
    if (folder_has(dir, mnist, 4))
        return "idx";
    return "folder";
}

/* IDX magic: two zero bytes and one of the format's element types. */
static int starts_like_idx(const char *path)
{
    unsigned char b[4];
    size_t n = 0;
    byol__zfile *z;
    if (byol__zfile_open(path, &z) == BYOL_OK) {
        byol__zfile_read(z, b, 4, &n);
        byol__zfile_close(z);
    }
    return n == 4 && !b[0] && !b[1] && memchr("\x08\x09\x0b\x0c\x0d\x0e", b[2], 6);
}

static int file_format(const char *path, const char **fmt)
{
    size_t n = strlen(path);
    if (n >= 4 && !strcmp(path + n - 4, ".bin"))
        *fmt = "cifar";
    else if (starts_like_idx(path))
        *fmt = "idx";
    else
        return byol__err(BYOL_E_FORMAT, "%s: cannot tell the dataset format (not an IDX file, "
                         "not a CIFAR .bin batch, not a folder); set data.format", path);
    return BYOL_OK;
}

static int check_path(const char *path, int *type)
{
    struct stat st;
    *type = byol__path_type(path);
    if (*type)
        return BYOL_OK;
    if (stat(path, &st) != 0)
        return byol__err(BYOL_E_IO, "%s: cannot open: %s", path, strerror(errno));
    return byol__err(BYOL_E_IO, "%s: neither a folder nor a regular file", path);
}

int byol_dataset_open(const byol_config *cfg, const char *path, byol_dataset **out)
{
    const char *fmt = byol__cfg_str(cfg, BYOL__K_DATA_FORMAT);
    int32_t channels;
    int64_t max_pixels;
    int type, rc;
    if (!out || !path)
        return byol__err(BYOL_E_INVALID_ARG, "byol_dataset_open: path or out is NULL");
    *out = NULL;
    /* settings first: a bad one must not cost a read of the whole dataset */
    if ((rc = byol__image_settings(cfg, &channels, &max_pixels)) != BYOL_OK ||
        (rc = check_path(path, &type)) != BYOL_OK)
        return rc;
    if (!strcmp(fmt, "auto") && type == BYOL__PATH_DIR)
        fmt = folder_format(path);
    else if (!strcmp(fmt, "auto") && (rc = file_format(path, &fmt)) != BYOL_OK)
        return rc;
    if (!strcmp(fmt, "cifar"))
        return byol__cifar_open(cfg, path, out);
    if (!strcmp(fmt, "idx"))
        return byol__idx_open(cfg, path, out);
    if (type != BYOL__PATH_DIR)
        return byol__err(BYOL_E_FORMAT, "%s: data.format=folder needs a folder, this is a file",
                         path);
    return byol__folder_open(cfg, path, out);
}
