/* Internal image helpers of the data module: channel conversion and the
 * decoder that byol_image_decode*() and the image-folder dataset share. */
#ifndef BYOL_DATA_IMAGE_H
#define BYOL_DATA_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "byol/byol_data.h"

/* Gray from RGB: ITU-R BT.601 luma, Y = 0.299 R + 0.587 G + 0.114 B,
 * rounded to the nearest integer (halves up). The integer weights sum to
 * 1000, so the result never exceeds 255. */
static inline uint8_t byol__luma(unsigned r, unsigned g, unsigned b)
{
    return (uint8_t)((299u * r + 587u * g + 114u * b + 500u) / 1000u);
}

/* Reads data.channels (1 or 3; 2 is refused with BYOL_E_RANGE naming the
 * key) and data.max_pixels. A NULL cfg reads the defaults. */
int byol__image_settings(const byol_config *cfg, int32_t *channels, int64_t *max_pixels);

/* Checks a caller's byol_image before a call fills it: BYOL_E_INVALID_ARG
 * (NULL), BYOL_E_ABI (struct_size too small). On success out->data is NULL. */
int byol__image_check_out(const char *fn, byol_image *out);

/* Allocates out->data for height x width x channels and sets the sizes.
 * BYOL_E_NOMEM names `name`. */
int byol__image_alloc(byol_image *out, int32_t height, int32_t width, int32_t channels,
                      const char *name);

/* Converts npix pixels of src_c channels (1 gray, 2 gray+alpha, 3 RGB,
 * 4 RGBA) to dst_c channels (1 or 3), interleaved, into dst. Channel k of
 * pixel i is src[i * pix_step + k * chan_step]: (src_c, 1) for interleaved
 * HWC data, (1, npix) for CHW planes. Alpha is dropped, never composited;
 * gray becomes RGB by replication, RGB becomes gray by byol__luma(). */
void byol__pixels_convert(const uint8_t *src, int src_c, size_t pix_step, size_t chan_step,
                          size_t npix, uint8_t *dst, int dst_c);

/* Decodes len encoded bytes (errors call them `name`) into out with
 * `channels` channels, refusing images above max_pixels before decoding.
 * out must have passed byol__image_check_out(). Errors as byol_image_decode(). */
int byol__image_decode(const uint8_t *bytes, size_t len, const char *name, int32_t channels,
                       int64_t max_pixels, byol_image *out);
/* Offset just after a JPEG's SOI marker, 0 when the bytes do not start
 * with one. Like stb_image, it accepts 0xff fill bytes before the SOI. */
size_t byol__jpeg_soi(const uint8_t *bytes, size_t len);

/* Refuses (BYOL_E_DECODE naming `name`) a JPEG of len bytes with a scan
 * whose Huffman or quantization table is never defined, which stb_image
 * would decode from uninitialised memory (see jpeg_check.c). */
int byol__jpeg_check(const uint8_t *bytes, size_t len, const char *name);

/* Refuses or mends, before stb_image decodes them, the corrupt inputs it
 * would decode from uninitialised memory (see stb_guard.c). fmt is the
 * sniffed format name, w x h the header's size. *mended receives a mended
 * copy to decode instead (byol__malloc; NULL when none is needed).
 * BYOL_E_DECODE, BYOL_E_NOMEM. */
int byol__stb_guard(const char *fmt, const uint8_t *bytes, size_t len, const char *name,
                    int w, int h, uint8_t **mended, size_t *mended_len);

/* Reads the file at path whole (BYOL_E_IO names it) and decodes it as above. */
int byol__image_decode_file(const char *path, int32_t channels, int64_t max_pixels,
                            byol_image *out);

#endif
