/* A walk over a JPEG's markers before stb_image decodes it.
 *
 * stb_image 2.27 does not clear its decoder state, and never checks that a
 * scan's Huffman and quantization tables were defined: a corrupt file that
 * uses an undefined table decodes with uninitialised tables, which gives
 * pixels from leftover heap bytes and, for Huffman tables, out-of-bounds
 * reads and a failed assertion inside libstb. Nor does it clear a
 * component's buffers: a frame with a component no scan decodes (no scan
 * at all, say) returns that component from leftover heap bytes. The walk
 * below finds every scan stb would decode (it skips entropy-coded data as
 * stb does, so it sees at least the markers stb sees) and refuses one whose
 * tables no earlier DHT or DQT segment defined, and a frame with a
 * component no scan covers. Anything else odd is left to stb, whose own
 * checks report it. */
#include <string.h>

#include "core/internal.h"
#include "image.h"

typedef struct jpeg_walk {
    unsigned dqt, dc, ac;   /* bit t: table t defined so far */
    int ncomp, progressive;
    uint8_t id[4], tq[4];   /* frame components and their quantization tables */
    unsigned covered;       /* bit c: a scan has written every block of component c */
} jpeg_walk;

static void define_dqt(jpeg_walk *w, const uint8_t *p, const uint8_t *end)
{
    while (p < end) {
        if ((*p & 15) < 4)
            w->dqt |= 1u << (*p & 15);
        p += 1 + 64 * ((*p >> 4) ? 2 : 1);
    }
}

static void define_dht(jpeg_walk *w, const uint8_t *p, const uint8_t *end)
{
    while (p + 17 <= end) {
        size_t n = 0;
        for (int i = 1; i <= 16; i++)
            n += p[i];
        if ((*p >> 4) < 2 && (*p & 15) < 4)
            *((*p >> 4) ? &w->ac : &w->dc) |= 1u << (*p & 15);
        p += 17 + n;
    }
}

static void define_frame(jpeg_walk *w, const uint8_t *p, const uint8_t *end, int progressive)
{
    w->ncomp = 0;
    w->covered = 0;
    w->progressive = progressive;
    for (p += 6; p + 3 <= end && w->ncomp < 4; p += 3) {
        w->id[w->ncomp] = p[0];
        w->tq[w->ncomp++] = p[2];
    }
}

/* The tables the scan at p (its segment, after the length) will use. */
static int check_scan(jpeg_walk *w, const uint8_t *p, const uint8_t *end,
                      const char *name)
{
    int ns = p < end ? p[0] : 0;
    if (p + 4 + 2 * ns > end)
        return BYOL_OK;  /* stb reports the short segment */
    int dc_scan = p[1 + 2 * ns] == 0, first = (p[3 + 2 * ns] >> 4) == 0;
    for (int i = 0; i < ns; i++) {
        int c = 0, hd = p[2 + 2 * i] >> 4, ha = p[2 + 2 * i] & 15;
        while (c < w->ncomp && w->id[c] != p[1 + 2 * i])
            c++;
        if (c == w->ncomp || hd > 3 || ha > 3 || w->tq[c] > 3)
            return BYOL_OK;  /* stb refuses these itself */
        int need_dc = !w->progressive || (dc_scan && first);
        int need_ac = !w->progressive || !dc_scan;
        const char *missing = !(w->dqt >> w->tq[c] & 1) ? "quantization"
                              : need_dc && !(w->dc >> hd & 1) ? "DC Huffman"
                              : need_ac && !(w->ac >> ha & 1) ? "AC Huffman" : NULL;
        if (missing)
            return byol__err(BYOL_E_DECODE, "%s: corrupt JPEG: a scan uses a %s table the "
                             "file never defines", name, missing);
        /* stb clears a block in baseline scans and in first DC scans only */
        if (!w->progressive || (dc_scan && first))
            w->covered |= 1u << c;
    }
    return BYOL_OK;
}

/* Every frame component must have been written by a scan: stb leaves the
 * others' buffers uninitialised and still returns an image. at_eoi: the
 * walk ended at EOI, not at the end of the bytes. */
static int check_covered(const jpeg_walk *w, const char *name, int at_eoi)
{
    for (int c = 0; c < w->ncomp; c++)
        if (!(w->covered >> c & 1) && at_eoi)
            return byol__err(BYOL_E_DECODE, "%s: corrupt JPEG: component %d of %d is never "
                             "decoded by a scan", name, c + 1, w->ncomp);
        else if (!(w->covered >> c & 1))
            return byol__err(BYOL_E_DECODE, "%s: truncated JPEG data: the file ends before "
                             "component %d of %d is decoded", name, c + 1, w->ncomp);
    return BYOL_OK;
}

/* Offset of the next marker after entropy-coded data starting at i. */
static size_t skip_entropy(const uint8_t *b, size_t len, size_t i)
{
    for (; i + 1 < len; i++)
        if (b[i] == 0xff && b[i + 1] != 0 && b[i + 1] != 0xff &&
            !(b[i + 1] >= 0xd0 && b[i + 1] <= 0xd7))
            return i;
    return len;
}

size_t byol__jpeg_soi(const uint8_t *b, size_t len)
{
    size_t i = 1;
    if (len < 2 || b[0] != 0xff)
        return 0;
    while (i < len && b[i] == 0xff)
        i++;
    return i < len && b[i] == 0xd8 ? i + 1 : 0;
}

int byol__jpeg_check(const uint8_t *b, size_t len, const char *name)
{
    jpeg_walk w;
    size_t pos = byol__jpeg_soi(b, len);
    memset(&w, 0, sizeof w);
    while (pos + 2 <= len) {
        int m = b[pos + 1];
        if (b[pos] != 0xff || m == 0xff || m == 0 || (m >= 0xd0 && m <= 0xd8) || m == 0x01) {
            pos++;  /* padding, fill bytes and markers without a segment */
            continue;
        }
        if (m == 0xd9)
            return check_covered(&w, name, 1);
        if (pos + 4 > len)
            break;
        size_t seg = (size_t)b[pos + 2] << 8 | b[pos + 3];
        const uint8_t *p = b + pos + 4, *end = b + (pos + 2 + seg <= len ? pos + 2 + seg : len);
        if (seg < 2)
            return BYOL_OK;  /* a length stb refuses */
        if (m == 0xdb)
            define_dqt(&w, p, end);
        else if (m == 0xc4)
            define_dht(&w, p, end);
        else if (m >= 0xc0 && m <= 0xc2)
            define_frame(&w, p, end, m == 0xc2);
        else if (m == 0xda && check_scan(&w, p, end, name) != BYOL_OK)
            return BYOL_E_DECODE;
        pos = m == 0xda ? skip_entropy(b, len, pos + 2 + seg) : pos + 2 + seg;
    }
    return check_covered(&w, name, 0);
}
