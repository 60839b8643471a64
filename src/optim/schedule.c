/* BYOL's schedules (DM byol/utils/schedules.py) as pure functions of the step.
 *
 * The end points are returned explicitly rather than left to cos(): lr(K) = 0
 * and tau(K) = 1 must hold exactly (the last step moves no weight; the target
 * freezes), and tau(0) = tau_base exactly, whatever the libm. */
#include <math.h>

#include "core/internal.h"
#include "optim/optim.h"

static const double PI = 3.14159265358979323846;

double byol__lr_at(int64_t k, int64_t total, int64_t warmup, double peak_lr)
{
    if (k < 0)
        k = 0;
    if (warmup < 0)
        warmup = 0;
    /* Linear warmup from lr(0) = 0; the warmup ends exactly at k = W. */
    if (k < warmup)
        return peak_lr * (double)k / (double)warmup;
    /* DM's cosine would divide 0/0 when K <= W: there is no decay phase,
     * and the schedule is over. */
    int64_t span = total - warmup;
    if (span <= 0 || k - warmup >= span)
        return 0.0;
    return peak_lr * 0.5 * (1.0 + cos(PI * (double)(k - warmup) / (double)span));
}

double byol__tau_at(int64_t k, int64_t total, double tau_base)
{
    if (total <= 0 || k >= total)
        return 1.0;
    if (k <= 0)
        return tau_base;
    return 1.0 - (1.0 - tau_base) * (cos(PI * (double)k / (double)total) + 1.0) / 2.0;
}

double byol__scaled_lr(double base_lr, int64_t batch)
{
    return base_lr * (double)batch / 256.0;
}

int byol__steps_for_epochs(int64_t epochs, int64_t n, int64_t batch, int64_t *out)
{
    if (!out)
        return byol__err(BYOL_E_INVALID_ARG, "steps_for_epochs: out must not be NULL");
    if (epochs < 0 || n < 0 || batch < 1)
        return byol__err(BYOL_E_RANGE,
                         "steps_for_epochs: epochs %lld, examples %lld, batch %lld "
                         "(need epochs, examples >= 0 and batch >= 1)",
                         (long long)epochs, (long long)n, (long long)batch);
    if (n > 0 && epochs > INT64_MAX / n)
        return byol__err(BYOL_E_RANGE, "steps_for_epochs: %lld epochs x %lld examples overflows",
                         (long long)epochs, (long long)n);
    /* DM: num_epochs * num_examples // batch_size, the product taken first. */
    *out = epochs * n / batch;
    return BYOL_OK;
}
