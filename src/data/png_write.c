/* byol_image_write_png: stb_image_write encodes in memory, io/file.c writes
 * the bytes atomically (temporary file, fsync, rename, folder fsync).
 *
 * stb_image_write's stbi_flip_vertically_on_write() is a process-wide
 * setting with no per-thread form: a host program that turns it on flips
 * libbyol's PNGs too. */
#include <limits.h>
#include <stb_image_write.h>

#include "core/internal.h"
#include "image.h"
#include "io/file.h"

typedef struct png_sink {
    const char *path;
    int rc;
    int called;
} png_sink;

/* stb hands over the whole encoded file in one call. */
static void write_png_bytes(void *context, void *data, int size)
{
    png_sink *s = context;
    byol__chunk chunk = { data, (size_t)size };
    s->called = 1;
    s->rc = byol__file_write_atomic(s->path, &chunk, 1);
}

static int check_image(const char *path, const byol_image *img)
{
    if (!path || !*path)
        return byol__err(BYOL_E_INVALID_ARG, "byol_image_write_png: path is NULL or empty");
    if (!img || img->struct_size < sizeof *img || !img->data)
        return byol__err(BYOL_E_INVALID_ARG, "byol_image_write_png: %s: the image is NULL, "
                         "has no data or a bad struct_size", path);
    if (img->height < 1 || img->width < 1 || (img->channels != 1 && img->channels != 3))
        return byol__err(BYOL_E_INVALID_ARG, "byol_image_write_png: %s: a %dx%dx%d image "
                         "(sizes must be >= 1, channels 1 or 3)", path, (int)img->height,
                         (int)img->width, (int)img->channels);
    /* stb_image_write counts the filtered rows, one filter byte each, in an int. */
    if (((int64_t)img->width * img->channels + 1) * img->height > INT_MAX)
        return byol__err(BYOL_E_INVALID_ARG, "byol_image_write_png: %s: a %dx%dx%d image is "
                         "more than stb_image_write can encode (2 GiB)", path,
                         (int)img->height, (int)img->width, (int)img->channels);
    return BYOL_OK;
}

int byol_image_write_png(const char *path, const byol_image *img)
{
    png_sink sink = { path, BYOL_OK, 0 };
    int rc = check_image(path, img);
    if (rc != BYOL_OK)
        return rc;
    if (!stbi_write_png_to_func(write_png_bytes, &sink, img->width, img->height,
                                img->channels, img->data, img->width * img->channels) &&
        !sink.called)
        return byol__err(BYOL_E_NOMEM, "%s: stb_image_write ran out of memory encoding a "
                         "%dx%dx%d PNG", path, (int)img->height, (int)img->width,
                         (int)img->channels);
    return sink.rc;
}
