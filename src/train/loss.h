/* The BYOL regression loss and the collapse monitor (DeepMind's reference,
 * byol/byol_experiment.py; docs/concepts.md): l(p, z) = sum_d (p/|p| - z/|z|)^2 = 2 - 2 cos(p, z), with the
 * reference's normalisation l2n(x) = x * rsqrt(max(sum x^2, 1e-12)). */
#ifndef BYOL_TRAIN_LOSS_H
#define BYOL_TRAIN_LOSS_H

#include <stdint.h>

/* p, z [n, d] -> returns sum_i l(p_i, z_i) (in double); if dp is not NULL,
 * dp [n, d] = scale * d l(p_i, z_i) / d p_i (z is a constant: stop-gradient). */
double byol__regression_loss(int64_t n, int64_t d, const float *p, const float *z, float *dp,
                             float scale);

/* The collapse monitor: the mean over d of the standard deviation over the
 * batch of l2n(z), near 0 when every sample maps to the same direction
 * (collapse), about 1/sqrt(d) for well-spread projections. In two parts so
 * that ranks can add their sums: z [n, d] -> sums [2d] (overwritten), then
 * the monitor from the sums over n rows in all. */
void byol__collapse_sums(int64_t n, int64_t d, const float *z, double *sums);
double byol__collapse_finish(int64_t n, int64_t d, const double *sums);

#endif
