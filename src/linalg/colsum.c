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

void byol__colsum_add(int64_t m, int64_t c, const float *dy, float *db)
{
    /* dy [m, c] -> db [c] += column sums. Each (row group, column block)
     * tile is summed by one thread; the groups' partials are added in group
     * order afterwards, so the bits do not depend on the thread count. */
    int64_t groups, rows, width;
    byol__reduce_tiles(m, c, &groups, &rows, &width);
    int64_t blocks = (c + width - 1) / width;
    double part[BYOL__REDUCE_PARTIALS];
#pragma omp parallel for num_threads(byol__num_threads()) schedule(static) \
    if (m * c >= BYOL__PAR_MIN)
    for (int64_t t = 0; t < groups * blocks; t++) {
        int64_t g = t / blocks, c0 = (t % blocks) * width;
        int64_t w = c - c0 < width ? c - c0 : width;
        int64_t r1 = (g + 1) * rows < m ? (g + 1) * rows : m;
        double acc[NARROW_MAX];
        colsum_tile(g * rows, r1, c, c0, w, dy, acc);
        if (groups == 1) {
            for (int64_t j = 0; j < w; j++)
                db[c0 + j] += (float)acc[j];
        } else {
            memcpy(part + g * c + c0, acc, (size_t)w * sizeof(double));
        }
    }
    if (groups == 1)
        return;
    for (int64_t j = 0; j < c; j++) {
        double s = 0.0;
        for (int64_t g = 0; g < groups; g++)
            s += part[g * c + j];
        db[j] += (float)s;
    }
}
