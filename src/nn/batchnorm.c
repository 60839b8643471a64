/* BatchNorm over the columns of an [m, c] matrix (NHWC activations, or 2-D
 * [N, C] ones), following PyTorch's CPU kernels:
 * - forward y = x * alpha + shift with alpha = rstd * gamma and
 *   shift = beta - mean * alpha (the channels-last kernel's form);
 * - backward dx = (dy - dsum/N - (x - mean) * k) * rstd * gamma with
 *   k = dot(dy, x - mean) * rstd^2 / N.
 * Sums are taken in double over tiles fixed by (m, c) alone
 * (byol__reduce_tiles), so results do not depend on the thread count.
 * gamma/beta may be NULL (affine = False): gamma = 1, beta = 0.
 *
 * A ReLU right after BatchNorm, working in place on its output, is fused
 * (run.c): the forward clamps in the affine pass, and the backward reads
 * the ReLU's output y and gradient and masks on the fly (dy where y > 0,
 * else 0, as byol__relu_backward does), so the two ReLU passes over memory
 * go and every value is the same float as unfused. */
#include <math.h>
#include <string.h>

#include "core/internal.h"
#include "nn/kernels.h"

/* Widest column block byol__reduce_tiles hands out. */
#define BLOCK_MAX 256

typedef struct tiling {
    int64_t m, c, groups, rows, width, blocks;
} tiling;

typedef struct tile {
    int64_t g, r0, r1, c0, w;
} tile;

static tiling tiling_make(int64_t m, int64_t c)
{
    tiling tg = { m, c, 0, 0, 0, 0 };
    byol__reduce_tiles(m, c, &tg.groups, &tg.rows, &tg.width);
    tg.blocks = (c + tg.width - 1) / tg.width;
    return tg;
}

static tile tile_at(const tiling *tg, int64_t t)
{
    tile tl;
    tl.g = t / tg->blocks;
    tl.c0 = (t % tg->blocks) * tg->width;
    tl.w = tg->c - tl.c0 < tg->width ? tg->c - tl.c0 : tg->width;
    tl.r0 = tl.g * tg->rows;
    tl.r1 = tl.r0 + tg->rows < tg->m ? tl.r0 + tg->rows : tg->m;
    return tl;
}

/* A tile's column sums go straight to out when there is one row group, and
 * to the group's slot of part otherwise. */
static void store_tile(const tiling *tg, const tile *tl, const double *acc,
                       double *out, double *part)
{
    double *dst = tg->groups == 1 ? out : part + tl->g * tg->c;
    memcpy(dst + tl->c0, acc, (size_t)tl->w * sizeof(double));
}

/* out[j] = sum of the groups' partials, in group order. */
static void combine(const tiling *tg, const double *part, double *out)
{
    if (tg->groups == 1)
        return;
    for (int64_t j = 0; j < tg->c; j++) {
        double s = 0.0;
        for (int64_t g = 0; g < tg->groups; g++)
            s += part[g * tg->c + j];
        out[j] = s;
    }
}

static void sums_tile(const tile *tl, int64_t c, const float *x, double *s,
                      double *q)
{
    for (int64_t j = 0; j < tl->w; j++)
        s[j] = q[j] = 0.0;
    for (int64_t r = tl->r0; r < tl->r1; r++) {
        const float *xr = x + r * c + tl->c0;
        for (int64_t j = 0; j < tl->w; j++) {
            double v = xr[j];
            s[j] += v;
            q[j] += v * v;
        }
    }
}

/* g[j] = dy[j], or 0 where the fused ReLU's output y[j] is <= 0, for a
 * tile's row of w columns (a separate loop, so both it and the sums that
 * read g vectorise); returns g. */
static const float *masked_row(const float *dy, const float *y, int64_t w, float *g)
{
    for (int64_t j = 0; j < w; j++) {
        float v = dy[j];   /* loaded unconditionally so gcc vectorises */
        g[j] = y[j] <= 0.0f ? 0.0f : v;
    }
    return g;
}

static void bwd_sums_tile(const tile *tl, int64_t c, const float *x,
                          const float *dy, const float *y, const float *mean,
                          double *ds, double *dd)
{
    double mu[BLOCK_MAX];
    float gm[BLOCK_MAX];
    for (int64_t j = 0; j < tl->w; j++) {
        ds[j] = dd[j] = 0.0;
        mu[j] = mean[tl->c0 + j];
    }
    for (int64_t r = tl->r0; r < tl->r1; r++) {
        const float *xr = x + r * c + tl->c0;
        const float *gr = dy + r * c + tl->c0;
        if (y)
            gr = masked_row(gr, y + r * c + tl->c0, tl->w, gm);
        for (int64_t j = 0; j < tl->w; j++) {
            double g = gr[j];
            ds[j] += g;
            dd[j] += g * ((double)xr[j] - mu[j]);
        }
    }
}

/* What a tile sums, per column j: x and x^2 (forward; dy NULL), or dy and
 * dy * (x - mean) (backward; dy masked by a fused ReLU's y unless NULL). */
typedef struct pair_src {
    const float *x, *dy, *y, *mean;
} pair_src;

typedef struct pair_job {
    const tiling *tg;
    const pair_src *p;
    double *a, *b, *pa, *pb;
} pair_job;

static void pair_range(void *arg, int64_t t0, int64_t t1)
{
    const pair_job *j = arg;
    const pair_src *p = j->p;
    const int64_t c = j->tg->c;
    for (int64_t t = t0; t < t1; t++) {
        tile tl = tile_at(j->tg, t);
        double sa[BLOCK_MAX], sb[BLOCK_MAX];
        if (p->dy)
            bwd_sums_tile(&tl, c, p->x, p->dy, p->y, p->mean, sa, sb);
        else
            sums_tile(&tl, c, p->x, sa, sb);
        store_tile(j->tg, &tl, sa, j->a, j->pa);
        store_tile(j->tg, &tl, sb, j->b, j->pb);
    }
}

/* a, b [c] = the two column sums of p over [m, c], tile by tile. */
static void pair_sums(int64_t m, int64_t c, const pair_src *p, double *a, double *b)
{
    tiling tg = tiling_make(m, c);
    double pa[BYOL__REDUCE_PARTIALS], pb[BYOL__REDUCE_PARTIALS];
    pair_job j = { &tg, p, a, b, pa, pb };
    byol__parallel_for(tg.groups * tg.blocks, m * c >= BYOL__PAR_MIN, pair_range, &j);
    combine(&tg, pa, a);
    combine(&tg, pb, b);
}

void byol__bn_sums(int64_t m, int64_t c, const float *x, double *sum,
                   double *sumsq)
{
    /* x [m, c] -> sum [c], sumsq [c] (double; x^2 is exact in double) */
    const pair_src p = { x, NULL, NULL, NULL };
    pair_sums(m, c, &p, sum, sumsq);
}

void byol__bn_stats(int64_t count, int64_t c, const double *sum,
                    const double *sumsq, float eps, float momentum,
                    int unbiased, float *mean, float *rstd, float *run_mean,
                    float *run_var)
{
    /* sum, sumsq [c] over count rows -> mean, rstd [c]; run_mean, run_var
     * [c] updated in place (either may be NULL: no running statistics).
     * One row has no unbiased variance (PyTorch refuses to train on it);
     * its biased variance, 0, is used instead of dividing by zero. */
    const double n = (double)count, mom = momentum;
    const double corr = unbiased && count > 1 ? n / (n - 1.0) : 1.0;
    for (int64_t j = 0; j < c; j++) {
        double mu = sum[j] / n;
        double var = sumsq[j] / n - mu * mu;
        if (var < 0.0)
            var = 0.0;   /* cancellation when var << mean^2 */
        mean[j] = (float)mu;
        rstd[j] = (float)(1.0 / sqrt(var + (double)eps));
        if (run_mean)
            run_mean[j] = (float)(mom * mu + (1.0 - mom) * run_mean[j]);
        if (run_var)
            run_var[j] = (float)(mom * var * corr + (1.0 - mom) * run_var[j]);
    }
}

/* y = x * alpha + shift over one tile, with alpha and shift from the mean
 * and either rstd or (eval mode) the running variance. */
typedef struct affine {
    const float *mean, *rstd, *var, *gamma, *beta;
    float eps;
    int relu;   /* clamp at 0 as byol__relu_forward does (NaN passes) */
} affine;

static void affine_tile(const tile *tl, int64_t c, const affine *p,
                        const float *x, float *y)
{
    float alpha[BLOCK_MAX], shift[BLOCK_MAX];
    for (int64_t j = 0; j < tl->w; j++) {
        int64_t k = tl->c0 + j;
        float inv = p->rstd ? p->rstd[k] : 1.0f / sqrtf(p->var[k] + p->eps);
        alpha[j] = inv * (p->gamma ? p->gamma[k] : 1.0f);
        shift[j] = (p->beta ? p->beta[k] : 0.0f) - p->mean[k] * alpha[j];
    }
    for (int64_t r = tl->r0; r < tl->r1; r++) {
        const float *xr = x + r * c + tl->c0;
        float *yr = y + r * c + tl->c0;
        if (p->relu) {
            for (int64_t j = 0; j < tl->w; j++) {
                float v = xr[j] * alpha[j] + shift[j];
                yr[j] = v < 0.0f ? 0.0f : v;
            }
        } else {
            for (int64_t j = 0; j < tl->w; j++)
                yr[j] = xr[j] * alpha[j] + shift[j];
        }
    }
}

typedef struct affine_job {
    const tiling *tg;
    const affine *p;
    const float *x;
    float *y;
} affine_job;

static void affine_range(void *arg, int64_t t0, int64_t t1)
{
    const affine_job *j = arg;
    for (int64_t t = t0; t < t1; t++) {
        tile tl = tile_at(j->tg, t);
        affine_tile(&tl, j->tg->c, j->p, j->x, j->y);
    }
}

static void affine_apply(int64_t m, int64_t c, const affine *p,
                         const float *x, float *y)
{
    tiling tg = tiling_make(m, c);
    affine_job j = { &tg, p, x, y };
    byol__parallel_for(tg.groups * tg.blocks, m * c >= BYOL__PAR_MIN, affine_range, &j);
}

void byol__bn_apply(int64_t m, int64_t c, const float *x, const float *mean,
                    const float *rstd, const float *gamma, const float *beta,
                    int relu, float *y)
{
    /* x [m, c] -> y [m, c] (may alias x); mean, rstd, gamma, beta [c] */
    affine p = { mean, rstd, NULL, gamma, beta, 0.0f, relu };
    affine_apply(m, c, &p, x, y);
}

void byol__bn_forward_eval(int64_t m, int64_t c, const float *x,
                           const float *run_mean, const float *run_var,
                           float eps, const float *gamma, const float *beta,
                           int relu, float *y)
{
    /* x [m, c] -> y [m, c]; rstd = 1 / sqrt(run_var + eps) in float, as
     * PyTorch's eval path computes it. */
    affine p = { run_mean, NULL, run_var, gamma, beta, eps, relu };
    affine_apply(m, c, &p, x, y);
}

void byol__bn_backward_sums(int64_t m, int64_t c, const float *x,
                            const float *dy, const float *relu_y,
                            const float *mean, const float *rstd,
                            double *dsum, double *dxhat)
{
    /* x, dy, relu_y [m, c] -> dsum [c] = sum dy, dxhat [c] = sum dy * xhat.
     * The rstd factor is applied once to the finished dot(dy, x - mean). */
    const pair_src p = { x, dy, relu_y, mean };
    pair_sums(m, c, &p, dsum, dxhat);
    for (int64_t j = 0; j < c; j++)
        dxhat[j] *= rstd[j];
}

/* Per-channel constants of dx = (dy - gmean - (x - mean) * k) * scale. */
typedef struct bwd_consts {
    int64_t count;
    const float *mean, *rstd, *gamma;
    const double *dsum, *dxhat;
} bwd_consts;

static void bwd_apply_tile(const tile *tl, int64_t c, const bwd_consts *p,
                           const float *x, const float *dy, const float *y,
                           float *dx, int accum)
{
    float mu[BLOCK_MAX], gmean[BLOCK_MAX], k[BLOCK_MAX], scale[BLOCK_MAX], g[BLOCK_MAX];
    const double n = (double)p->count;
    for (int64_t j = 0; j < tl->w; j++) {
        int64_t q = tl->c0 + j;
        mu[j] = p->mean[q];
        gmean[j] = (float)(p->dsum[q] / n);
        k[j] = (float)(p->dxhat[q] * p->rstd[q] / n);
        scale[j] = p->rstd[q] * (p->gamma ? p->gamma[q] : 1.0f);
    }
    for (int64_t r = tl->r0; r < tl->r1; r++) {
        const float *xr = x + r * c + tl->c0;
        const float *gr = dy + r * c + tl->c0;
        float *d = dx + r * c + tl->c0;
        if (y)
            gr = masked_row(gr, y + r * c + tl->c0, tl->w, g);
        if (accum) {
            for (int64_t j = 0; j < tl->w; j++)
                d[j] += (gr[j] - gmean[j] - (xr[j] - mu[j]) * k[j]) * scale[j];
        } else {
            for (int64_t j = 0; j < tl->w; j++)
                d[j] = (gr[j] - gmean[j] - (xr[j] - mu[j]) * k[j]) * scale[j];
        }
    }
}

typedef struct bwd_job {
    const tiling *tg;
    const bwd_consts *p;
    const float *x, *dy, *y;
    float *dx;
    int accum;
} bwd_job;

static void bwd_range(void *arg, int64_t t0, int64_t t1)
{
    const bwd_job *j = arg;
    for (int64_t t = t0; t < t1; t++) {
        tile tl = tile_at(j->tg, t);
        bwd_apply_tile(&tl, j->tg->c, j->p, j->x, j->dy, j->y, j->dx, j->accum);
    }
}

void byol__bn_backward_apply(int64_t m, int64_t c, int64_t count,
                             const float *x, const float *dy,
                             const float *relu_y, const float *mean,
                             const float *rstd,
                             const float *gamma, const double *dsum,
                             const double *dxhat, float *dx, int accum,
                             float *dgamma, float *dbeta)
{
    /* x, dy, relu_y [m, c] -> dx [m, c] (+)= (dx may alias dy when !accum);
     * dgamma, dbeta [c] += (skipped when NULL). count is the (possibly
     * global) number of rows the statistics were taken over. */
    bwd_consts p = { count, mean, rstd, gamma, dsum, dxhat };
    tiling tg = tiling_make(m, c);
    bwd_job j = { &tg, &p, x, dy, relu_y, dx, accum };
    if (dx)
        byol__parallel_for(tg.groups * tg.blocks, m * c >= BYOL__PAR_MIN, bwd_range, &j);
    for (int64_t j = 0; j < c; j++) {
        if (dgamma)
            dgamma[j] += (float)dxhat[j];
        if (dbeta)
            dbeta[j] += (float)dsum[j];
    }
}
