/* Deterministic column sums: the bias gradients (byol__colsum_add) and,
 * through byol__reduce_tiles, BatchNorm's per-channel sums. The tiling
 * depends on the matrix shape only, never on the thread count. */
#include <string.h>

#include "core/internal.h"
#include "linalg/linalg.h"

/* Row groups are at least this long, and at most this many, so each tile
 * amortises its partial-sum write-back. */
#define GROUP_MIN_ROWS 256
#define GROUP_MAX 16
/* Columns per tile when a row is too wide to stream whole: 512 bytes, a
 * whole number of cache lines. */
#define WIDE_BLOCK 128
#define NARROW_MAX 256

void byol__reduce_tiles(int64_t m, int64_t c, int64_t *groups, int64_t *rows,
                        int64_t *width)
{
    /* (m, c) -> tiling; never looks at the thread count. */
    int64_t g = m / GROUP_MIN_ROWS;
    int64_t cap = c > 0 ? BYOL__REDUCE_PARTIALS / c : GROUP_MAX;
    if (cap > GROUP_MAX)
        cap = GROUP_MAX;
    if (g > cap)
        g = cap;
    if (g < 1)
        g = 1;
    *groups = g;
    *rows = (m + g - 1) / g;
    if (*rows < 1)
        *rows = 1;
    *width = c <= NARROW_MAX ? (c > 0 ? c : 1) : WIDE_BLOCK;
}

/* acc[0..w) = sum over rows [r0, r1) of x[r, c0 .. c0+w). */
static void colsum_tile(int64_t r0, int64_t r1, int64_t c, int64_t c0,
                        int64_t w, const float *x, double *acc)
{
    for (int64_t j = 0; j < w; j++)
        acc[j] = 0.0;
    for (int64_t r = r0; r < r1; r++) {
        const float *xr = x + r * c + c0;
        for (int64_t j = 0; j < w; j++)
            acc[j] += xr[j];
    }
}

/* One column-sum pass: its shape and tiling, the input, the output (one
 * group) or the groups' partials. */
typedef struct colsum_args {
    int64_t m, c, groups, rows, width, blocks;
    const float *dy;
    float *db;
    double *part;
} colsum_args;

static void tiles_range(void *arg, int64_t t0, int64_t t1)
{
    const colsum_args *p = arg;
    for (int64_t t = t0; t < t1; t++) {
        int64_t g = t / p->blocks, c0 = (t % p->blocks) * p->width;
        int64_t w = p->c - c0 < p->width ? p->c - c0 : p->width;
        int64_t r1 = (g + 1) * p->rows < p->m ? (g + 1) * p->rows : p->m;
        double acc[NARROW_MAX];
        colsum_tile(g * p->rows, r1, p->c, c0, w, p->dy, acc);
        if (p->groups == 1) {
            for (int64_t j = 0; j < w; j++)
                p->db[c0 + j] += (float)acc[j];
        } else {
            memcpy(p->part + g * p->c + c0, acc, (size_t)w * sizeof(double));
        }
    }
}

void byol__colsum_add(int64_t m, int64_t c, const float *dy, float *db)
{
    /* dy [m, c] -> db [c] += column sums. Each (row group, column block)
     * tile is summed by one thread; the groups' partials are added in group
     * order afterwards, so the bits do not depend on the thread count. */
    double part[BYOL__REDUCE_PARTIALS];
    colsum_args p = { .m = m, .c = c, .dy = dy, .db = db, .part = part };
    byol__reduce_tiles(m, c, &p.groups, &p.rows, &p.width);
    p.blocks = (c + p.width - 1) / p.width;
    byol__parallel_for(p.groups * p.blocks, m * c >= BYOL__PAR_MIN, tiles_range, &p);
    if (p.groups == 1)
        return;
    for (int64_t j = 0; j < c; j++) {
        double s = 0.0;
        for (int64_t g = 0; g < p.groups; g++)
            s += part[g * c + j];
        db[j] += (float)s;
    }
}
