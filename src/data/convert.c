/* Channel conversion and the small byol_image helpers shared by decoding
 * and datasets. */
#include <string.h>

#include "core/config.h"
#include "core/internal.h"
#include "image.h"

int byol__image_settings(const byol_config *cfg, int32_t *channels, int64_t *max_pixels)
{
    int64_t c = byol__cfg_int(cfg, BYOL__K_DATA_CHANNELS);
    /* The key's bounds are 1..3 so that the message here can say why 2 is
     * wrong: a byol_image has no gray+alpha form. */
    if (c != 1 && c != 3)
        return byol__err(BYOL_E_RANGE, "data.channels=%lld: images are converted to 1 (gray) "
                         "or 3 (RGB) channels", (long long)c);
    *channels = (int32_t)c;
    *max_pixels = byol__cfg_int(cfg, BYOL__K_DATA_MAX_PIXELS);
    return BYOL_OK;
}

int byol__image_check_out(const char *fn, byol_image *out)
{
    if (!out)
        return byol__err(BYOL_E_INVALID_ARG, "%s: out is NULL", fn);
    if (out->struct_size < sizeof *out)
        return byol__err(BYOL_E_ABI, "%s: byol_image struct_size %u < %zu", fn,
                         (unsigned)out->struct_size, sizeof *out);
    out->data = NULL;
    return BYOL_OK;
}

int byol__image_alloc(byol_image *out, int32_t height, int32_t width, int32_t channels,
                      const char *name)
{
    size_t n;
    if (byol__mul_size((size_t)height * (size_t)width, (size_t)channels, &n) != 0 ||
        !(out->data = byol__malloc(n ? n : 1)))
        return byol__err(BYOL_E_NOMEM, "%s: out of memory for a %dx%dx%d image", name,
                         (int)height, (int)width, (int)channels);
    out->height = height;
    out->width = width;
    out->channels = channels;
    return BYOL_OK;
}

/* One loop per (source kind, destination) pair, so the per-pixel work has
 * no branches. */
static void gray_to(const uint8_t *src, size_t step, size_t npix, uint8_t *dst, int dst_c)
{
    if (dst_c == 1)
        for (size_t i = 0; i < npix; i++)
            dst[i] = src[i * step];
    else
        for (size_t i = 0; i < npix; i++)
            memset(dst + 3 * i, src[i * step], 3);
}

static void rgb_to(const uint8_t *src, size_t step, size_t cs, size_t npix, uint8_t *dst,
                   int dst_c)
{
    if (dst_c == 1)
        for (size_t i = 0; i < npix; i++) {
            const uint8_t *p = src + i * step;
            dst[i] = byol__luma(p[0], p[cs], p[2 * cs]);
        }
    else
        for (size_t i = 0; i < npix; i++) {
            const uint8_t *p = src + i * step;
            dst[3 * i] = p[0];
            dst[3 * i + 1] = p[cs];
            dst[3 * i + 2] = p[2 * cs];
        }
}

void byol__pixels_convert(const uint8_t *src, int src_c, size_t pix_step, size_t chan_step,
                          size_t npix, uint8_t *dst, int dst_c)
{
    if (src_c == dst_c && pix_step == (size_t)src_c && (chan_step == 1 || src_c == 1))
        memcpy(dst, src, npix * (size_t)src_c);
    else if (src_c <= 2)
        gray_to(src, pix_step, npix, dst, dst_c);
    else
        rgb_to(src, pix_step, chan_step, npix, dst, dst_c);
}
