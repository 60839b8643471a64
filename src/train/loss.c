/* BYOL's loss and collapse monitor. Rows are independent and short (the
 * projection size), so the work is a few passes over n*d floats. */
#include <math.h>

#include "train/loss.h"
#include "core/internal.h"

/* 1/|x| with the reference's floor: rsqrt(max(sum x^2, 1e-12)). */
static double inv_norm(const float *x, int64_t d, double *sq)
{
    double s = 0;
    for (int64_t j = 0; j < d; j++)
        s += (double)x[j] * x[j];
    *sq = s;
    return 1.0 / sqrt(s > 1e-12 ? s : 1e-12);
}

double byol__regression_loss(int64_t n, int64_t d, const float *p, const float *z, float *dp,
                             float scale)
{
    /* p, z [n, d] -> sum of per-row losses; dp [n, d] */
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *pi = p + i * d, *zi = z + i * d;
        double psq, zsq;
        double rp = inv_norm(pi, d, &psq), rz = inv_norm(zi, d, &zsq);
        double loss = 0, dot = 0;
        for (int64_t j = 0; j < d; j++) {
            double e = pi[j] * rp - zi[j] * rz;
            loss += e * e;
            dot += (pi[j] * rp) * (2.0 * e); /* p_hat . dl/dp_hat */
        }
        total += loss;
        if (!dp)
            continue;
        /* dl/dp = rp * (g - p_hat (p_hat . g)) with g = 2 (p_hat - z_hat);
         * below the floor the norm is a constant and dl/dp = rp * g. */
        int floored = psq <= 1e-12;
        for (int64_t j = 0; j < d; j++) {
            double ph = pi[j] * rp, g = 2.0 * (ph - zi[j] * rz);
            dp[i * d + j] = (float)(scale * rp * (floored ? g : g - ph * dot));
        }
    }
    return total;
}

void byol__collapse_sums(int64_t n, int64_t d, const float *z, double *sums)
{
    /* z [n, d] -> sums [2d]: sum_i z_hat[i, j], then sum_i z_hat[i, j]^2 */
    double *s = sums, *s2 = sums + d;
    for (int64_t j = 0; j < d; j++)
        s[j] = s2[j] = 0;
    for (int64_t i = 0; i < n; i++) {
        double sq, r = inv_norm(z + i * d, d, &sq);
        for (int64_t j = 0; j < d; j++) {
            double v = z[i * d + j] * r;
            s[j] += v;
            s2[j] += v * v;
        }
    }
}

double byol__collapse_finish(int64_t n, int64_t d, const double *sums)
{
    /* sums [2d] over n rows -> mean_j std_i(z_hat[i, j]) (unbiased, as torch.std) */
    if (n < 2)
        return 0;
    const double *s = sums, *s2 = sums + d;
    double acc = 0;
    for (int64_t j = 0; j < d; j++) {
        double var = (s2[j] - s[j] * s[j] / (double)n) / (double)(n - 1);
        acc += sqrt(var > 0 ? var : 0);
    }
    return acc / (double)d;
}
