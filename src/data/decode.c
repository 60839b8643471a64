/* Image decoding through stb_image (Debian's libstb, linked, not vendored).
 *
 * Order of work: the file is read whole by io/file.c (so IO failures are
 * BYOL_E_IO with the system's reason, never a decode error); the format is
 * sniffed from its first bytes; stbi_info_from_memory() (for a PNG first
 * its IHDR, read here) gives the size so that an image over
 * data.max_pixels is refused before any pixel is decoded; stb_guard.c
 * refuses or mends the corrupt files stb 2.27 would decode from
 * uninitialised memory; then stb decodes at the file's own channel count
 * and byol__pixels_convert() makes data.channels (stb's own
 * gray conversion truncates and uses other weights, so it is not used).
 *
 * stb's failure reason: Debian's libstb is built with STBI_THREAD_LOCAL
 * (stbi_failure_reason() reads a thread-local through __tls_get_addr), so
 * reasons do not cross threads and no lock is needed; test_decode checks
 * this with threads decoding different bad files at once. The one reason
 * kept in a static buffer ("XXXX PNG chunk not known") is never reached:
 * stb_guard.c refuses those PNGs first. Two caveats, handled by not
 * repeating what stb says in those cases:
 * - some decoder paths fail without a reason (a JPEG cut inside a marker
 *   segment does), leaving what the format probes set earlier in the same
 *   call ("bad png sig", "no SOI"), "" (the GIF probe clears it) or the
 *   header pass's "unknown image type": "corrupt or truncated data";
 * - the header pass (stbi_info) tries every format in turn, so its own
 *   reason is always the last probe's "unknown image type": a file whose
 *   signature is known is reported as an unreadable header of that format. */
#include <limits.h>
#include <stb_image.h>
#include <string.h>

#include "core/internal.h"
#include "image.h"
#include "io/file.h"

/* What the leading bytes say. stb also decodes PSD, HDR and Softimage PIC;
 * libbyol's contract lists PNG, JPEG, BMP, TGA, GIF and PNM only, so those
 * three are refused before stb sees them (less decoder surface for hostile
 * files). TGA has no signature: anything unrecognised is left to stb. */
typedef struct sniffed {
    const char *name;  /* "PNG", ... or "image" when unknown */
    int refused;
} sniffed;

static int starts(const uint8_t *b, size_t n, const char *magic, size_t m)
{
    return n >= m && memcmp(b, magic, m) == 0;
}

static sniffed sniff(const uint8_t *b, size_t n)
{
    if (starts(b, n, "\x89PNG\r\n\x1a\n", 8))
        return (sniffed){ "PNG", 0 };
    if (byol__jpeg_soi(b, n))
        return (sniffed){ "JPEG", 0 };
    if (starts(b, n, "BM", 2))
        return (sniffed){ "BMP", 0 };
    if (starts(b, n, "GIF8", 4))
        return (sniffed){ "GIF", 0 };
    if (n >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6')
        return (sniffed){ "PNM", 0 };
    if (starts(b, n, "8BPS", 4))
        return (sniffed){ "PSD", 1 };
    if (starts(b, n, "#?", 2))
        return (sniffed){ "Radiance HDR", 1 };
    if (starts(b, n, "\x53\x80\xf6\x34", 4))
        return (sniffed){ "Softimage PIC", 1 };
    return (sniffed){ "image", 0 };
}

/* True when stb's reason is one its probes leave behind (see the top). */
static int stale_reason(const char *r)
{
    return !r || !*r || !strcmp(r, "bad png sig") || !strcmp(r, "no SOI") ||
           !strcmp(r, "unknown image type");
}

static int too_many_pixels(const char *name, const char *fmt, int64_t w, int64_t h,
                           int64_t max_pixels)
{
    return byol__err(BYOL_E_RANGE, "%s: %lldx%lld %s image has %llu pixels, more than "
                     "data.max_pixels=%lld; refused before decoding", name, (long long)w,
                     (long long)h, fmt, (unsigned long long)w * (unsigned long long)h,
                     (long long)max_pixels);
}

/* stb's header pass refuses a PNG over its own limit of 2^30 bytes as an
 * unreadable header, so a large PNG is measured here first, from its IHDR
 * (the first chunk): what max_pixels refuses is refused as for the other
 * formats. (stb's JPEG header pass reports any size.) */
static int check_png_size(const uint8_t *b, size_t len, const char *name, int64_t max_pixels)
{
    if (len < 24 || memcmp(b + 12, "IHDR", 4))
        return BYOL_OK;  /* stb reports the bad header */
    int64_t w = (int64_t)b[16] << 24 | b[17] << 16 | b[18] << 8 | b[19];
    int64_t h = (int64_t)b[20] << 24 | b[21] << 16 | b[22] << 8 | b[23];
    return h > 0 && w > max_pixels / h ? too_many_pixels(name, "PNG", w, h, max_pixels)
                                        : BYOL_OK;
}

/* Header pass: dimensions known and within max_pixels. An input without a
 * signature that stb reads can only be a TGA: fmt is named so. */
static int check_header(const uint8_t *bytes, size_t len, const char *name, sniffed *fmt,
                        int64_t max_pixels, int *w, int *h)
{
    int c = 0;
    int rc = strcmp(fmt->name, "PNG") ? BYOL_OK : check_png_size(bytes, len, name, max_pixels);
    if (rc != BYOL_OK)
        return rc;
    if (!stbi_info_from_memory(bytes, (int)len, w, h, &c)) {
        if (!strcmp(fmt->name, "image"))
            return byol__err(BYOL_E_DECODE, "%s: not an image of a supported format (PNG, "
                             "JPEG, BMP, TGA, GIF, PNM)", name);
        return byol__err(BYOL_E_DECODE, "%s: stb_image cannot read the %s header (corrupt, "
                         "an unsupported variant, or over stb's own limit of 2^30 bytes per "
                         "image)", name, fmt->name);
    }
    if (!strcmp(fmt->name, "image"))
        fmt->name = "TGA";
    if (*w <= 0 || *h <= 0)
        return byol__err(BYOL_E_RANGE, "%s: %s image of zero size (%dx%d)", name, fmt->name,
                         *w, *h);
    if ((int64_t)*w * *h > max_pixels)
        return too_many_pixels(name, fmt->name, *w, *h, max_pixels);
    return BYOL_OK;
}

static int decode_failed(const char *name, sniffed fmt)
{
    const char *r = stbi_failure_reason();
    if (r && !strcmp(r, "outofmem"))
        return byol__err(BYOL_E_NOMEM, "%s: out of memory decoding the %s image", name,
                         fmt.name);
    if (stale_reason(r))
        return byol__err(BYOL_E_DECODE, "%s: corrupt or truncated %s data (stb_image "
                         "stopped without a specific reason)", name, fmt.name);
    return byol__err(BYOL_E_DECODE, "%s: cannot decode the %s image: stb_image: %s", name,
                     fmt.name, r);
}

/* stb decodes at the file's own channel count; then data.channels. */
static int run_stb(const uint8_t *bytes, size_t len, const char *name, sniffed fmt,
                   int32_t channels, int64_t max_pixels, byol_image *out)
{
    int w, h, c, rc;
    uint8_t *pix;
    /* These stb settings are process-wide unless set per thread: a host
     * program that flips its own loads must not flip ours. */
    stbi_set_flip_vertically_on_load_thread(0);
    stbi_convert_iphone_png_to_rgb_thread(0);
    pix = stbi_load_from_memory(bytes, (int)len, &w, &h, &c, 0);
    if (!pix)
        return decode_failed(name, fmt);
    /* Checked again on what was decoded, in case a header pass and the
     * decoder ever disagree. */
    if ((int64_t)w * h > max_pixels || w <= 0 || h <= 0 || c < 1 || c > 4)
        rc = byol__err(BYOL_E_DECODE, "%s: stb_image decoded %dx%dx%d, which its header "
                       "pass did not announce", name, w, h, c);
    else if ((rc = byol__image_alloc(out, h, w, channels, name)) == BYOL_OK)
        byol__pixels_convert(pix, c, (size_t)c, 1, (size_t)w * (size_t)h, out->data,
                             channels);
    stbi_image_free(pix);
    return rc;
}

int byol__image_decode(const uint8_t *bytes, size_t len, const char *name, int32_t channels,
                       int64_t max_pixels, byol_image *out)
{
    sniffed fmt = sniff(bytes, len);
    uint8_t *mended = NULL;
    size_t mended_len = 0;
    int w = 0, h = 0, rc;
    if (len == 0)
        return byol__err(BYOL_E_DECODE, "%s: empty file (0 bytes), not an image", name);
    /* stb counts bytes in an int; a mended palette adds at most 768 */
    if (len > INT_MAX - 1024)
        return byol__err(BYOL_E_DECODE, "%s: %zu bytes, more than stb_image reads (2 GiB)",
                         name, len);
    if (fmt.refused)
        return byol__err(BYOL_E_DECODE, "%s: %s images are not supported (PNG, JPEG, BMP, "
                         "TGA, GIF and PNM are)", name, fmt.name);
    if ((rc = check_header(bytes, len, name, &fmt, max_pixels, &w, &h)) != BYOL_OK ||
        (rc = byol__stb_guard(fmt.name, bytes, len, name, w, h, &mended, &mended_len)) !=
            BYOL_OK)
        return rc;
    rc = run_stb(mended ? mended : bytes, mended ? mended_len : len, name, fmt, channels,
                 max_pixels, out);
    byol__free(mended);
    return rc;
}

/* ---- public entry points ------------------------------------------------- */

int byol__image_decode_file(const char *path, int32_t channels, int64_t max_pixels,
                            byol_image *out)
{
    unsigned char *buf;
    size_t len;
    int rc = byol__file_read(path, &buf, &len);
    if (rc != BYOL_OK)
        return rc;
    rc = byol__image_decode(buf, len, path, channels, max_pixels, out);
    byol__free(buf);
    return rc;
}

int byol_image_decode(const byol_config *cfg, const char *path, byol_image *out)
{
    int32_t channels;
    int64_t max_pixels;
    int rc = byol__image_check_out("byol_image_decode", out);
    if (rc != BYOL_OK)
        return rc;
    if (!path)
        return byol__err(BYOL_E_INVALID_ARG, "byol_image_decode: path is NULL");
    if ((rc = byol__image_settings(cfg, &channels, &max_pixels)) != BYOL_OK)
        return rc;
    return byol__image_decode_file(path, channels, max_pixels, out);
}

int byol_image_decode_memory(const byol_config *cfg, const void *bytes, size_t len,
                             const char *name, byol_image *out)
{
    int32_t channels;
    int64_t max_pixels;
    int rc = byol__image_check_out("byol_image_decode_memory", out);
    if (rc != BYOL_OK)
        return rc;
    if (!bytes && len)
        return byol__err(BYOL_E_INVALID_ARG, "byol_image_decode_memory: bytes is NULL");
    if ((rc = byol__image_settings(cfg, &channels, &max_pixels)) != BYOL_OK)
        return rc;
    return byol__image_decode(bytes, len, name ? name : "<memory>", channels, max_pixels,
                              out);
}

void byol_image_release(byol_image *img)
{
    if (!img)
        return;
    byol__free(img->data);
    img->data = NULL;
}
