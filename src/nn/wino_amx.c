/* The bf16 products (Winograd's, and gemm_bf16.c's) on AMX tiles (Sapphire
 * Rapids and newer), the same operands as byol__wino_matmul_bf16
 * (wino_avx512.c), which hands them over here:
 *     c [m, n] fp32 (+)= a [m, k] bf16 . b [k/2, n, 2] bf16
 * A tile register holds 16 rows of 64 bytes; tdpbf16ps multiplies a tile
 * of a (16 rows x 32 k) by a tile of b (16 pairs of k x 16 columns, the
 * layout b already has) into a tile of 16 x 16 fp32 sums: 8192
 * multiply-adds per instruction, 8x what vdpbf16ps does per cycle on the
 * same core.
 *
 * Register use: tmm0-3 hold a 32 x 32 block of c, tmm4-5 two tiles of a,
 * tmm6-7 two of b. a is packed per 32 rows and 512 k into tile rows on the
 * stack (its pairs may be far apart: the weight gradient's a is [k/2, m,
 * 2]); b is read in place but for a last, partial group of 16 pairs,
 * copied with zeros after it. c tiles are loaded and stored in place but
 * for a last, partial group of 16 rows, which goes through a staging
 * buffer. Within a tile's sum, k is added in hardware order, 32 at a time,
 * so the bits are not those of the AVX512_BF16 kernel, but depend on the
 * sizes only. */
#include <string.h>

#include "core/internal.h"
#include "nn/winograd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TARGET_AMX __attribute__((target("amx-tile,amx-bf16")))

enum {
    KP = 16,      /* pairs of k per tile row (64 bytes) */
    CHUNK = 16,   /* groups of KP pairs per packed piece of a: 512 k */
};

/* Every tile 16 rows x 64 bytes, palette 1: the layout ldtilecfg reads. */
typedef struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* One block: rows [r0, r0 + mr) (mr <= 32) of c, columns [j0, j0 + nc)
 * (nc 16 or 32), pairs [p0, p0 + np) of k. */
typedef struct block {
    const uint32_t *ap;   /* a packed: [groups][32 rows][KP pairs] */
    const uint16_t *b;
    float *c;
    int64_t n, ldc, p0, r0, j0;   /* n: b's row (columns) */
    int mr, nc, np, load;   /* load: add to c's values (else start at 0) */
} block;

/* a's rows [r0, r0 + mr) x pairs [p0, p0 + np) into tile rows, zeros past
 * them: group q, row r, pair i at ap[(q * 32 + r) * KP + i]. */
static void pack_a(const uint16_t *a, int64_t ars, int64_t aps, int64_t r0, int mr,
                   int64_t p0, int np, uint32_t *ap)
{
    const int groups = (np + KP - 1) / KP;
    if (mr < 32 || np % KP)
        memset(ap, 0, (size_t)groups * 32 * KP * sizeof *ap);
    if (aps == 2) {   /* a row's pairs are adjacent: 64 bytes at a time */
        for (int r = 0; r < mr; r++)
            for (int q = 0; q < groups; q++) {
                int have = np - q * KP < KP ? np - q * KP : KP;
                memcpy(ap + (q * 32 + r) * KP, a + (r0 + r) * ars + (p0 + q * KP) * 2,
                       (size_t)have * sizeof *ap);
            }
        return;
    }
    for (int q = 0; q < groups; q++)
        for (int r = 0; r < mr; r += 16) {
            const int have_p = np - q * KP < KP ? np - q * KP : KP;
            const int have_r = mr - r < 16 ? mr - r : 16;
            const uint16_t *src = a + (r0 + r) * ars + (p0 + q * KP) * aps;
            uint32_t *dst = ap + (q * 32 + r) * KP;
            if (ars == 2)   /* rows adjacent along each pair: turned over */
                byol__transpose16_32(src, aps / 2, have_p, have_r, dst, KP);
            else
                for (int p = 0; p < have_p; p++)
                    for (int i = 0; i < have_r; i++)
                        memcpy(dst + i * KP + p, src + i * ars + p * aps, sizeof *dst);
        }
}

/* c's tile (ti, tj) into tmm(ti * 2 + tj): in place when all 16 rows are
 * there, else through stage. */
static float *c_tile(const block *k, int ti, int tj, float *stage, int64_t *stride)
{
    const int rows = k->mr - 16 * ti;
    float *c = k->c + (k->r0 + 16 * ti) * k->ldc + k->j0 + 16 * tj;
    if (rows >= 16) {
        *stride = k->ldc * (int64_t)sizeof(float);
        return c;
    }
    *stride = 16 * sizeof(float);
    memset(stage, 0, 16 * 16 * sizeof(float));
    if (k->load)
        for (int r = 0; r < rows; r++)
            memcpy(stage + 16 * r, c + r * k->ldc, 16 * sizeof(float));
    return stage;
}

static void c_unstage(const block *k, int ti, int tj, const float *stage)
{
    const int rows = k->mr - 16 * ti;
    float *c = k->c + (k->r0 + 16 * ti) * k->ldc + k->j0 + 16 * tj;
    for (int r = 0; r < rows && rows < 16; r++)
        memcpy(c + r * k->ldc, stage + 16 * r, 16 * sizeof(float));
}

/* Tile registers are named by constants, so each (ti, tj) is spelled. */
#define C_LOAD(T, P, S)             \
    do {                            \
        if (k->load)                \
            _tile_loadd(T, P, S);   \
        else                        \
            _tile_zero(T);          \
    } while (0)

/* b's rows for group q: in place, or the partial last group copied with
 * zeros after it into bt [KP][32 columns]. */
static const uint16_t *b_group(const block *k, int q, uint32_t *bt, int64_t *stride)
{
    const int64_t p = k->p0 + (int64_t)q * KP;
    const int have = k->np - q * KP;
    const uint16_t *b = k->b + (p * k->n + k->j0) * 2;
    if (have >= KP) {
        *stride = k->n * 4;
        return b;
    }
    memset(bt, 0, KP * 32 * sizeof *bt);
    for (int i = 0; i < have; i++)
        memcpy(bt + 32 * i, b + i * k->n * 2, (size_t)k->nc * 4);
    *stride = 32 * 4;
    return (const uint16_t *)bt;
}

TARGET_AMX static void run_block(const block *k)
{
    float stage[4][256];
    uint32_t bt[KP * 32];
    const int two_rows = k->mr > 16, two_cols = k->nc > 16, groups = (k->np + KP - 1) / KP;
    int64_t s0, s1 = 0, s2 = 0, s3 = 0;
    float *p0 = c_tile(k, 0, 0, stage[0], &s0), *p1 = NULL, *p2 = NULL, *p3 = NULL;
    __asm__ volatile("" ::: "memory");
    C_LOAD(0, p0, s0);
    if (two_cols) {
        p1 = c_tile(k, 0, 1, stage[1], &s1);
        C_LOAD(1, p1, s1);
    }
    if (two_rows) {
        p2 = c_tile(k, 1, 0, stage[2], &s2);
        C_LOAD(2, p2, s2);
    }
    if (two_rows && two_cols) {
        p3 = c_tile(k, 1, 1, stage[3], &s3);
        C_LOAD(3, p3, s3);
    }
    for (int q = 0; q < groups; q++) {
        int64_t bs;
        const uint16_t *b = b_group(k, q, bt, &bs);
        /* gcc's tile loads are asm without a memory operand: the stores
         * that filled ap, bt and stage must happen before them */
        __asm__ volatile("" ::: "memory");
        const uint32_t *a = k->ap + (int64_t)q * 32 * KP;
        _tile_loadd(4, a, KP * 4);
        _tile_loadd(6, b, bs);
        if (two_cols)
            _tile_loadd(7, b + 32, bs);
        _tile_dpbf16ps(0, 4, 6);
        if (two_cols)
            _tile_dpbf16ps(1, 4, 7);
        if (two_rows) {
            _tile_loadd(5, a + 16 * KP, KP * 4);
            _tile_dpbf16ps(2, 5, 6);
            if (two_cols)
                _tile_dpbf16ps(3, 5, 7);
        }
    }
    _tile_stored(0, p0, s0);
    c_unstage(k, 0, 0, p0);
    if (two_cols) {
        _tile_stored(1, p1, s1);
        c_unstage(k, 0, 1, p1);
    }
    if (two_rows) {
        _tile_stored(2, p2, s2);
        c_unstage(k, 1, 0, p2);
    }
    if (two_rows && two_cols) {
        _tile_stored(3, p3, s3);
        c_unstage(k, 1, 1, p3);
    }
}

TARGET_AMX void byol__wino_matmul_amx(int64_t m, int64_t n, int64_t k, const uint16_t *a,
                                      int64_t ars, int64_t aps, const uint16_t *b, float *c,
                                      int64_t ldc, int accumulate)
{
    /* a [m, k] bf16 (pair p of row r at r * ars + p * aps), b [k/2, n, 2]
     * bf16 -> c [m, n] fp32 (rows ldc apart) (+)= a b; k even, n a
     * multiple of 16 */
    static const tile_config cfg = {
        .palette = 1,
        .colsb = { 64, 64, 64, 64, 64, 64, 64, 64 },
        .rows = { 16, 16, 16, 16, 16, 16, 16, 16 },
    };
    _Alignas(64) uint32_t ap[CHUNK * 32 * KP];
    const int64_t pairs = k / 2;
    _tile_loadconfig(&cfg);
    for (int64_t r0 = 0; r0 < m; r0 += 32)
        for (int64_t p0 = 0; p0 < pairs || p0 == 0; p0 += CHUNK * KP) {
            block blk = { .ap = ap, .b = b, .c = c, .n = n, .ldc = ldc, .p0 = p0, .r0 = r0,
                          .mr = m - r0 < 32 ? (int)(m - r0) : 32,
                          .np = pairs - p0 < CHUNK * KP ? (int)(pairs - p0) : CHUNK * KP,
                          .load = accumulate || p0 > 0 };
            pack_a(a, ars, aps, r0, blk.mr, p0, blk.np, ap);
            for (int64_t j0 = 0; j0 < n; j0 += 32) {
                blk.j0 = j0;
                blk.nc = n - j0 < 32 ? 16 : 32;
                run_block(&blk);
            }
        }
    _tile_release();
}

#else

/* Never called: byol__cpu_amx() is 0 off x86-64. */
void byol__wino_matmul_amx(int64_t m, int64_t n, int64_t k, const uint16_t *a, int64_t ars,
                           int64_t aps, const uint16_t *b, float *c, int64_t ldc, int accumulate)
{
    (void)m, (void)n, (void)k, (void)a, (void)ars, (void)aps, (void)b, (void)c, (void)ldc,
        (void)accumulate;
}

#endif
