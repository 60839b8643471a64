/* What stb_image 2.27 gets wrong on corrupt input, refused or mended before
 * it decodes (all found by tests/fuzz/fuzz_decode.c):
 * - raw TGA and binary PNM pixels are read with one stbi__getn whose short
 *   read is ignored: a truncated file decodes into uninitialised heap
 *   memory. Refused: the header says how many bytes the pixels need;
 * - JPEG tables are never checked for being defined (jpeg_check.c);
 * - PNG and BMP palettes live in uninitialised stack arrays of 256
 *   entries, and a pixel index past the file's palette reads leftover
 *   bytes. Mended: the palette is padded to 256 black entries in a copy
 *   of the file, so such a pixel is black, as in most decoders;
 * - a PNG that ends before IEND or holds an unknown critical chunk makes
 *   stb write its reason into one static buffer shared by all threads.
 *   Refused first, so that buffer is never written. */
#include <string.h>
#include <zlib.h>

#include "core/internal.h"
#include "image.h"

static uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const uint8_t *p) { return le16(p) | le16(p + 2) << 16; }
static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}
static void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static int truncated(const char *name, const char *fmt, size_t have, size_t need)
{
    return byol__err(BYOL_E_DECODE, "%s: truncated %s data: %zu bytes where the header "
                     "announces %zu", name, fmt, have, need);
}

/* ---- TGA -------------------------------------------------------------- */

/* Uncompressed, unmapped TGA of 8, 16 (gray), 24 or 32 bits: the only
 * kind stb reads with stbi__getn (mapped, RLE and 15/16-bit RGB pixels are
 * read byte by byte, as zeros past the end). */
static int tga_check(const uint8_t *b, size_t len, const char *name, int w, int h)
{
    unsigned type = b[2], bpp = b[16];
    size_t comp = bpp == 8 ? 1 : bpp == 16 && type == 3 ? 2 : bpp == 24 ? 3 : bpp == 32 ? 4 : 0;
    size_t need = 18 + (size_t)b[0] + (size_t)w * (size_t)h * comp;
    if (b[1] != 0 || type >= 8 || comp == 0 || len >= need)
        return BYOL_OK;
    return truncated(name, "TGA", len, need);
}

/* ---- PNM: the header parsed as stb parses it, to find where pixels start */

typedef struct pnm_cursor {
    const uint8_t *b;
    size_t len, pos;
} pnm_cursor;

static char pnm_next(pnm_cursor *s) { return s->pos < s->len ? (char)s->b[s->pos++] : 0; }

static void pnm_skip_space(pnm_cursor *s, char *c)
{
    for (;;) {
        while (s->pos < s->len && strchr(" \t\n\v\f\r", *c) && *c)
            *c = pnm_next(s);
        if (s->pos >= s->len || *c != '#')
            return;
        while (s->pos < s->len && *c != '\n' && *c != '\r')
            *c = pnm_next(s);
    }
}

static long pnm_number(pnm_cursor *s, char *c)
{
    long v = 0;
    while (s->pos < s->len && *c >= '0' && *c <= '9') {
        v = v < 100000000 ? v * 10 + (*c - '0') : v;
        *c = pnm_next(s);
    }
    return v;
}

static int pnm_check(const uint8_t *b, size_t len, const char *name, int w, int h)
{
    pnm_cursor s = { b, len, 2 };
    char c = pnm_next(&s);
    size_t comp = b[1] == '6' ? 3 : 1, need;
    pnm_skip_space(&s, &c);
    pnm_number(&s, &c);
    pnm_skip_space(&s, &c);
    pnm_number(&s, &c);
    pnm_skip_space(&s, &c);
    need = comp * (size_t)w * (size_t)h * (pnm_number(&s, &c) > 255 ? 2 : 1);
    return len - s.pos >= need ? BYOL_OK : truncated(name, "PNM", len, s.pos + need);
}

/* ---- PNG -------------------------------------------------------------- */

static int png_known_chunk(const uint8_t *type)
{
    static const char known[][4] = { "IHDR", "PLTE", "tRNS", "IDAT", "IEND", "CgBI" };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!memcmp(type, known[i], 4))
            return 1;
    return 0;
}

/* Walks the chunks as stb does, up to IEND. A file that ends first, or
 * holds a critical chunk stb does not know, is refused here: stb would
 * report both through "XXXX PNG chunk not known", one static buffer that
 * every thread rewrites. *plte receives the first PLTE chunk's offset (0:
 * none). */
static int png_walk(const uint8_t *b, size_t len, const char *name, size_t *plte)
{
    size_t pos = 8;
    *plte = 0;
    for (;;) {
        uint32_t n = len - pos >= 12 ? be32(b + pos) : 0;
        const uint8_t *type = b + pos + 4;
        if (len - pos < 12 || n > len - pos - 12)
            return byol__err(BYOL_E_DECODE, "%s: truncated PNG data: the file ends before "
                             "its IEND chunk", name);
        if (!memcmp(type, "IEND", 4))
            return BYOL_OK;
        if (!(type[0] & 0x20) && !png_known_chunk(type))
            return byol__err(BYOL_E_DECODE, "%s: corrupt PNG: a critical chunk of unknown "
                             "type 0x%08x at byte %zu", name, (unsigned)be32(type), pos);
        if (!*plte && !memcmp(type, "PLTE", 4))
            *plte = pos;
        pos += 12 + (size_t)n;
    }
}

/* The first PLTE chunk grown to 256 entries (its length and CRC rewritten). */
static int png_mend(const uint8_t *b, size_t len, const char *name, uint8_t **out,
                    size_t *out_len)
{
    size_t pos;
    uint32_t n;
    int rc = png_walk(b, len, name, &pos);
    if (rc != BYOL_OK || !pos || (n = be32(b + pos)) >= 768 || n % 3)
        return rc;  /* no palette to mend, or one stb refuses */
    *out_len = len + 768 - n;
    if (!(*out = byol__malloc(*out_len)))
        return byol__err(BYOL_E_NOMEM, "%s: out of memory mending the palette", name);
    memcpy(*out, b, pos + 8 + n);
    memset(*out + pos + 8 + n, 0, 768 - n);
    put_be32(*out + pos, 768);
    put_be32(*out + pos + 8 + 768, (uint32_t)crc32(0, *out + pos + 4, 4 + 768));
    memcpy(*out + pos + 12 + 768, b + pos + 12 + n, len - pos - 12 - n);
    return BYOL_OK;
}

/* ---- BMP -------------------------------------------------------------- */

/* A 1, 4 or 8-bit BMP palette grown to 256 entries. stb counts the
 * entries from the pixel data offset, in int arithmetic: (offset - 14 - 24)
 * / 3 for OS/2 headers, else (offset - 14 - hsz) >> 2, and reads them
 * right after the header. Zero entries are inserted after the file's own
 * and the offset moved by as much. A count below zero (an offset inside
 * the header, or above 2^31) would make stb read no palette at all: refused. */
static int bmp_pad(const uint8_t *b, size_t len, const char *name, uint8_t **out,
                   size_t *out_len)
{
    uint32_t hsz, bpp;
    int64_t offset, psize;
    size_t entry, at, add;
    if (len < 30)
        return BYOL_OK;
    offset = (int32_t)le32(b + 10);
    hsz = le32(b + 14);
    bpp = hsz == 12 ? le16(b + 24) : le16(b + 28);
    entry = hsz == 12 ? 3 : 4;
    if ((bpp != 1 && bpp != 4 && bpp != 8) || hsz > 124)
        return BYOL_OK;
    psize = hsz == 12 ? (offset - 38) / 3 : (offset - 14 - (int64_t)hsz) >> 2;
    if (psize < 0)
        return byol__err(BYOL_E_DECODE, "%s: corrupt BMP: its pixel data offset %lld leaves "
                         "no room for the palette", name, (long long)offset);
    at = 14 + (size_t)hsz + (size_t)psize * entry;
    if (psize == 0 || psize >= 256 || at > len)
        return BYOL_OK;  /* stb refuses these, or reads zeros past the end */
    add = (256 - (size_t)psize) * entry;
    if (!(*out = byol__malloc(len + add)))
        return byol__err(BYOL_E_NOMEM, "%s: out of memory mending the palette", name);
    memcpy(*out, b, at);
    memset(*out + at, 0, add);
    memcpy(*out + at + add, b + at, len - at);
    put_le32(*out + 10, (uint32_t)(offset + (int64_t)add));
    *out_len = len + add;
    return BYOL_OK;
}

int byol__stb_guard(const char *fmt, const uint8_t *bytes, size_t len, const char *name,
                    int w, int h, uint8_t **mended, size_t *mended_len)
{
    *mended = NULL;
    if (!strcmp(fmt, "JPEG"))
        return byol__jpeg_check(bytes, len, name);
    if (!strcmp(fmt, "TGA"))
        return tga_check(bytes, len, name, w, h);
    if (!strcmp(fmt, "PNM"))
        return pnm_check(bytes, len, name, w, h);
    if (!strcmp(fmt, "PNG"))
        return png_mend(bytes, len, name, mended, mended_len);
    if (!strcmp(fmt, "BMP"))
        return bmp_pad(bytes, len, name, mended, mended_len);
    return BYOL_OK;
}
