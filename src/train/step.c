/* The BYOL step and its parts. Each view is its own forward pass (per-view
 * BatchNorm statistics); the loss is a sum of per-view terms whose targets
 * are constants, so the gradient is the sum of one forward+backward per view
 * and each net's arena only ever holds one view. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "nn/nn.h"
#include "train/loss.h"
#include "train/trainer.h"

/* work regions, each [local, proj_out] (local: the images of this rank's step) */
enum { W_TZ1, W_TZ2, W_DP };

static float *region(const byol_trainer *t, int r) { return t->work + r * t->local * t->proj_out; }

/* ---- BatchNorm state snapshot (the guard) -------------------------------- */

static void snapshot(byol_trainer *t, int restore)
{
    byol_net *nets[BYOL__NETS];
    unsigned char *at = t->snapshot;
    byol__trainer_nets(t, nets, NULL);
    for (int k = 0; k < BYOL__NETS; k++) {
        if (restore)
            byol__nn_state_restore(nets[k], at);
        else
            byol__nn_state_save(nets[k], at);
        at += byol__nn_state_bytes(nets[k]);
    }
}

/* ---- the passes ------------------------------------------------------------ */

/* View k (0 or 1) of this step in nn's layout, [batch, C*H*W]: view 1 is
 * staged in the online encoder's own input buffer, view 2 in the trainer's. */
static float *view(const byol_trainer *t, int k)
{
    return k == 0 ? byol__nn_input_buffer(t->online[BYOL__ENC]) : t->view2;
}

/* View k+1 is [n, C, H, W] (n taken from view 1) and finite. */
static int check_view(const byol_trainer *t, const byol_tensor *v, int k, int64_t n,
                      const char *fn)
{
    const int64_t *dims = t->in_dims;
    if (!v || !v->data || v->struct_size < sizeof *v)
        return byol__err(BYOL_E_INVALID_ARG, "%s: view%d is NULL or has a bad struct_size", fn,
                         k + 1);
    const int64_t *s = v->shape;
    if (v->ndim != 4 || s[0] < 1 || s[0] > t->local || s[1] != dims[0] || s[2] != dims[1] ||
        s[3] != dims[2] || s[0] != n) {
        char most[96];
        if (t->comm.size == 1)
            snprintf(most, sizeof most, "train.batch_size %lld", (long long)t->local);
        else
            snprintf(most, sizeof most, "%lld (train.batch_size over %d ranks)",
                     (long long)t->local, (int)t->comm.size);
        return byol__err(BYOL_E_SHAPE, "%s: view%d must be [N,%lld,%lld,%lld] with the same N "
                         "for both views and N <= %s", fn, k + 1, (long long)dims[0],
                         (long long)dims[1], (long long)dims[2], most);
    }
    int64_t len = s[0] * s[1] * s[2] * s[3];
    for (int64_t i = 0; i < len; i++)
        if (!isfinite(v->data[i]))
            return byol__err(BYOL_E_NONFINITE, "%s: view%d element %lld is not finite", fn,
                             k + 1, (long long)i);
    return BYOL_OK;
}

/* The online encoder is the one net a caller holds (byol_trainer_encoder()):
 * it must still take images, in training mode, n at a time. */
static int check_encoder(const byol_trainer *t, int64_t n, const char *fn)
{
    const byol_net *enc = t->online[BYOL__ENC];
    if (!byol__nn_input_is_map(enc))
        return byol__err(BYOL_E_SHAPE, "%s: the encoder takes vectors of %lld features; a "
                         "trainer's views are images [N,C,H,W]", fn,
                         (long long)byol__nn_input_size(enc));
    if (!byol__nn_training(enc))
        return byol__err(BYOL_E_BAD_STATE, "%s: the encoder is in evaluation mode "
                         "(byol_net_set_training on byol_trainer_encoder()); a step trains it",
                         fn);
    int64_t planned = byol__nn_planned_batch(enc);
    if (planned < n)
        return byol__err(BYOL_E_SHAPE, "%s: the encoder is planned for %lld samples "
                         "(byol_net_plan on byol_trainer_encoder()), the views hold %lld", fn,
                         (long long)planned, (long long)n);
    return BYOL_OK;
}

/* Checks both views once and converts them once to nn's layout, for the
 * target and the online passes alike. */
static int take_views(byol_trainer *t, const byol_tensor *v1, const byol_tensor *v2,
                      const char *fn, int64_t *n)
{
    const byol_tensor *v[2] = { v1, v2 };
    *n = v1 && v1->struct_size >= sizeof *v1 ? v1->shape[0] : 0;
    for (int k = 0; k < 2; k++) {
        int rc = check_view(t, v[k], k, *n, fn);
        if (rc != BYOL_OK)
            return rc;
    }
    int rc = check_encoder(t, *n, fn);
    if (rc != BYOL_OK)
        return rc;
    for (int k = 0; k < 2; k++)
        byol__nn_input_from_nchw(t->online[BYOL__ENC], *n, v[k]->data, view(t, k));
    return BYOL_OK;
}

/* Target projection of one view: z = g_xi(f_xi(x)), no gradient. In
 * SimSiam mode the "target" is the online network itself under a
 * stop-gradient; that extra forward must not count in the BatchNorm
 * statistics, so they are restored right after it (nothing else has run
 * yet in this step, so the snapshot is exactly the state to restore). */
static int target_pass(byol_trainer *t, const float *x, int64_t n, float *z)
{
    byol_net *const *nets = t->simsiam ? t->online : t->target;
    const float *y, *tz;
    int rc = byol__nn_forward(nets[BYOL__ENC], x, n, &y);
    if (rc == BYOL_OK)
        rc = byol__nn_forward(nets[BYOL__PROJ], y, n, &tz);
    if (rc == BYOL_OK)
        memcpy(z, tz, (size_t)(n * t->proj_out) * sizeof(float)); /* outlives the arena's next pass */
    if (t->simsiam)
        snapshot(t, 1);
    return rc;
}

/* Online forward of one view, its loss against the other view's target
 * projection, and the backward pass adding into the online gradients. The
 * three nets are chained by pointer: each one's output is the next one's
 * input, and each backward's input gradient the previous one's dy.
 * *loss gets the sum of the view's losses, monitor the collapse sums. */
static int online_pass(byol_trainer *t, const float *x, int64_t n, const float *z_other,
                       double *loss, double *monitor)
{
    const int64_t p = t->proj_out;
    const float *y, *z, *q, *d;
    float *dq = region(t, W_DP);
    int rc = byol__nn_forward(t->online[BYOL__ENC], x, n, &y);
    if (rc == BYOL_OK)
        rc = byol__nn_forward(t->online[BYOL__PROJ], y, n, &z);
    if (rc == BYOL_OK)
        rc = byol__nn_forward(t->online[BYOL__PRED], z, n, &q);
    if (rc != BYOL_OK)
        return rc;
    byol__collapse_sums(n, p, z, monitor);
    /* d(sum of these losses / batch_size): micro-batches add up to the batch
     * mean, and so do the ranks' slices, batch_size being the global batch
     * (the derivation is at byol_trainer_step) */
    *loss = byol__regression_loss(n, p, q, z_other, dq, 1.0f / (float)t->batch);
    rc = byol__nn_backward(t->online[BYOL__PRED], dq, &d);
    if (rc == BYOL_OK)
        rc = byol__nn_backward(t->online[BYOL__PROJ], d, &d);
    if (rc == BYOL_OK)
        rc = byol__nn_backward(t->online[BYOL__ENC], d, NULL);
    return rc;
}

/* Sums count doubles over the ranks (none when alone). */
static int allreduce_f64(const byol_trainer *t, double *v, int64_t count, const char *what,
                         const char *fn)
{
    if (t->comm.size == 1 || t->comm.allreduce_f64(v, count, t->comm.user) == 0)
        return BYOL_OK;
    return byol__err(BYOL_E_COMM, "%s: the all-reduce of %s (%lld doubles) failed on rank %d",
                     fn, what, (long long)count, (int)t->comm.rank);
}

/* A cancel callback on any of the trainer's nets, polled by a rank of a
 * data-parallel trainer here (the passes hold it: byol__nn_hold_cancel). */
static int cancel_requested(const byol_trainer *t, const char *fn)
{
    byol_net *nets[BYOL__NETS];
    byol__trainer_nets(t, nets, NULL);
    for (int k = 0; k < BYOL__NETS; k++)
        if (byol__nn_cancel_requested(nets[k]))
            return byol__err(BYOL_E_CANCELLED, "%s: cancelled (with a communicator the cancel "
                             "callback is polled as the ranks agree to step)", fn);
    return BYOL_OK;
}

/* With other ranks: whether every rank goes on (rc is this rank's verdict
 * on `what`). Before the first collective of a step, a rank that refused
 * its views or was cancelled would otherwise return while the others wait
 * for it in the first BatchNorm sum; after the gradient hook, a rank whose
 * hook cancelled would keep its weights while the others update theirs.
 * One double each time. */
static int agree(const byol_trainer *t, int rc, const char *what, const char *fn)
{
    if (t->comm.size == 1)
        return rc;
    double refused = rc != BYOL_OK;
    char why[512];
    byol_last_error_copy(why, sizeof why);
    int arc = allreduce_f64(t, &refused, 1, "the ranks' verdicts", fn);
    if (arc != BYOL_OK)
        return arc;
    if (rc != BYOL_OK)
        return byol__err(rc, "%s", why);
    if (refused > 0)
        return byol__err(BYOL_E_COMM, "%s: %.0f other rank(s) refused %s, so no rank steps "
                         "(nothing changed)", fn, refused, what);
    return BYOL_OK;
}

/* The figures of both views, summed over the ranks: every rank reports the
 * loss and monitor of the global batch, and agrees on whether it is finite. */
static int sum_stats(const byol_trainer *t, int64_t n, byol_step_stats *stats, const char *fn)
{
    const int64_t p = t->proj_out;
    double *m = t->monitor, *l = m + 4 * p; /* loss_12, loss_21, rows */
    l[2] = (double)n;
    int rc = allreduce_f64(t, m, 4 * p + 3, "the loss and monitor sums", fn);
    if (rc == BYOL_OK && !isfinite(l[0] + l[1]))
        rc = byol__err(BYOL_E_NONFINITE, "%s: the loss is not finite", fn);
    if (rc != BYOL_OK || !stats)
        return rc;
    const int64_t rows = (int64_t)l[2];
    stats->step = t->step;
    stats->loss_12 = l[0] / l[2];
    stats->loss_21 = l[1] / l[2];
    stats->loss = stats->loss_12 + stats->loss_21;
    stats->collapse_std = 0.5 * (byol__collapse_finish(rows, p, m) +
                                 byol__collapse_finish(rows, p, m + 2 * p));
    return BYOL_OK;
}

/* rc: the caller's own checks of this step so far, which the ranks agree on
 * with the views' (see agree). */
static int accumulate(byol_trainer *t, const byol_tensor *v1, const byol_tensor *v2,
                      byol_step_stats *stats, const char *fn, int rc)
{
    int64_t n = 0;
    const int64_t p = t->proj_out;
    double *loss = t->monitor + 4 * p;
    float *tz1 = region(t, W_TZ1), *tz2 = region(t, W_TZ2);
    if (rc == BYOL_OK)
        rc = take_views(t, v1, v2, fn, &n);
    if (rc == BYOL_OK && t->comm.size > 1)
        rc = cancel_requested(t, fn);
    if ((rc = agree(t, rc, "their part of this step's input", fn)) != BYOL_OK)
        return rc;
    snapshot(t, 0);
    rc = target_pass(t, view(t, 0), n, tz1);
    if (rc == BYOL_OK)
        rc = target_pass(t, view(t, 1), n, tz2);
    if (rc == BYOL_OK)
        rc = online_pass(t, view(t, 0), n, tz2, &loss[0], t->monitor);
    if (rc == BYOL_OK)
        rc = online_pass(t, view(t, 1), n, tz1, &loss[1], t->monitor + 2 * p);
    if (rc == BYOL_OK)
        rc = sum_stats(t, n, stats, fn);
    if (rc != BYOL_OK)
        snapshot(t, 1);
    return rc;
}

int byol_trainer_accumulate(byol_trainer *t, const byol_tensor *view1, const byol_tensor *view2,
                            byol_step_stats *stats)
{
    if (!t)
        return byol__err(BYOL_E_INVALID_ARG, "byol_trainer_accumulate: trainer is NULL");
    if (stats && stats->struct_size < sizeof *stats)
        return byol__err(BYOL_E_ABI, "byol_trainer_accumulate: stats struct_size %u < %zu",
                         (unsigned)stats->struct_size, sizeof *stats);
    return accumulate(t, view1, view2, stats, "byol_trainer_accumulate", BYOL_OK);
}

int byol_trainer_zero_grad(byol_trainer *t)
{
    if (!t)
        return byol__err(BYOL_E_INVALID_ARG, "byol_trainer_zero_grad: trainer is NULL");
    memset(t->grads, 0, (size_t)t->nparams * sizeof(float));
    return BYOL_OK;
}

int64_t byol_trainer_step_index(const byol_trainer *t) { return t ? t->step : -1; }

/* ---- update ------------------------------------------------------------------ */

static double grad_norm(const byol_trainer *t)
{
    double s = 0;
    for (int64_t i = 0; i < t->nparams; i++)
        s += (double)t->grads[i] * t->grads[i];
    return sqrt(s);
}

/* The next step needs room in the step counters (the trainer's and the
 * optimizer's): a checkpoint may hold INT64_MAX, which one more step would
 * overflow. Checked before a step runs, so a refused step changes nothing. */
static int check_counters(const byol_trainer *t, const char *fn)
{
    byol__optim_state st;
    byol__optim_get_state(t->optim, &st);
    if (t->step < INT64_MAX && *st.steps < INT64_MAX)
        return BYOL_OK;
    return byol__err(BYOL_E_RANGE, "%s: the step counter is at its limit (step %lld, optimizer "
                     "step %lld): no step can follow", fn, (long long)t->step,
                     (long long)*st.steps);
}

int byol_trainer_apply_update(byol_trainer *t, byol_step_stats *stats)
{
    if (!t)
        return byol__err(BYOL_E_INVALID_ARG, "byol_trainer_apply_update: trainer is NULL");
    int rc = check_counters(t, "byol_trainer_apply_update");
    if (rc != BYOL_OK)
        return rc;
    double norm = grad_norm(t);
    if (!isfinite(norm))
        return byol__err(BYOL_E_NONFINITE, "byol_trainer_apply_update: a gradient is not finite");
    double lr = byol__lr_at(t->step, t->total_steps, t->warmup_steps,
                            byol__scaled_lr(t->base_lr, t->batch));
    rc = byol__optim_step(t->optim, t->spans, t->nspans, t->params, t->grads, lr);
    if (rc != BYOL_OK)
        return rc;
    if (stats) {
        stats->step = t->step;
        stats->lr = lr;
        stats->grad_norm = norm;
    }
    t->step++;
    return BYOL_OK;
}

typedef struct ema_args {
    float a, b;
    float *xi;
    const float *theta;
} ema_args;

static void ema_range(void *arg, int64_t i0, int64_t i1)
{
    const ema_args *p = arg;
    for (int64_t i = i0; i < i1; i++)
        p->xi[i] = p->a * p->xi[i] + p->b * p->theta[i];
}

int byol_trainer_update_target(byol_trainer *t, double tau)
{
    if (!t)
        return byol__err(BYOL_E_INVALID_ARG, "byol_trainer_update_target: trainer is NULL");
    if (!(tau >= 0 && tau <= 1))
        return byol__err(BYOL_E_RANGE, "byol_trainer_update_target: tau %g is outside [0, 1]", tau);
    /* xi <- tau xi + (1 - tau) theta; the target's layout is the online one's prefix */
    ema_args p = { (float)tau, (float)(1.0 - tau), t->tparams, t->params };
    byol__parallel_for(t->ntarget, t->ntarget > 65536, ema_range, &p);
    return BYOL_OK;
}

int byol_trainer_set_grad_hook(byol_trainer *t, byol_grad_hook fn, void *user)
{
    if (!t)
        return byol__err(BYOL_E_INVALID_ARG, "byol_trainer_set_grad_hook: trainer is NULL");
    t->hook = fn;
    t->hook_user = user;
    return BYOL_OK;
}

/* A whole step takes the rank's slice of train.batch_size images. */
static int check_batch(const byol_trainer *t, const byol_tensor *v, const char *fn)
{
    if (!v || v->struct_size < sizeof *v || v->shape[0] == t->local)
        return BYOL_OK; /* take_views() reports these */
    if (t->comm.size == 1)
        return byol__err(BYOL_E_SHAPE, "%s: views hold %lld samples, train.batch_size is %lld "
                         "(use byol_trainer_accumulate for micro-batches)", fn,
                         (long long)v->shape[0], (long long)t->batch);
    return byol__err(BYOL_E_SHAPE, "%s: views hold %lld samples; each of the %d ranks takes "
                     "train.batch_size %lld / %d = %lld", fn, (long long)v->shape[0],
                     (int)t->comm.size, (long long)t->batch, (int)t->comm.size,
                     (long long)t->local);
}

/* The gradients of all ranks summed, in place.
 *
 * Why a plain sum, with nothing scaled again: with B the global batch, L =
 * (1/B) sum over all B images of l_i is the global loss, and each rank's
 * backward pass starts from dq = (1/B) dl_i/dq for its own images
 * (online_pass), i.e. from exactly its rows of dL/dq. Every layer other
 * than BatchNorm acts row by row, so a rank's parameter gradient is the sum
 * over its rows of dL/dw, and the sum over ranks is dL/dw. Synchronized
 * BatchNorm couples the rows: its input gradient needs sum(dy) and
 * sum(dy x-hat) over ALL rows, which the nets all-reduce at the reduction
 * point; its gamma and beta gradients are those same sums, so each rank
 * adds only its local ones to its buffer (nn/run.c, bn_backward) and this
 * sum completes them. The result equals the gradient one process computes
 * from the whole batch; averaging it over the ranks would divide it by
 * their count, and adding the global BatchNorm sums on every rank would
 * multiply theirs by it.
 *
 * Overlapping this sum with the backward pass (buckets of layers handed to
 * the communicator as their gradients are done, as PyTorch DDP does) would
 * start it from the backward passes instead; not done yet. */
static int sum_grads(const byol_trainer *t, const char *fn)
{
    if (t->comm.size == 1 || t->comm.allreduce_f32(t->grads, t->nparams, t->comm.user) == 0)
        return BYOL_OK;
    return byol__err(BYOL_E_COMM, "%s: the all-reduce of the gradients (%lld floats) failed "
                     "on rank %d", fn, (long long)t->nparams, (int)t->comm.rank);
}

int byol_trainer_step(byol_trainer *t, const byol_tensor *view1, const byol_tensor *view2,
                      byol_step_stats *stats)
{
    static const char fn[] = "byol_trainer_step";
    if (!t)
        return byol__err(BYOL_E_INVALID_ARG, "%s: trainer is NULL", fn);
    if (stats && stats->struct_size < sizeof *stats)
        return byol__err(BYOL_E_ABI, "%s: stats struct_size %u < %zu", fn,
                         (unsigned)stats->struct_size, sizeof *stats);
    int rc = check_batch(t, view1, fn);
    if (rc == BYOL_OK)
        rc = check_counters(t, fn);
    byol_step_stats local = { .struct_size = sizeof local };
    byol_step_stats *s = stats ? stats : &local;
    if (rc == BYOL_OK)
        byol_trainer_zero_grad(t);
    rc = accumulate(t, view1, view2, s, fn, rc);
    if (rc != BYOL_OK)
        return rc;
    if (sum_grads(t, fn) != BYOL_OK) {
        snapshot(t, 1);
        return BYOL_E_COMM;
    }
    if (t->hook && t->hook(t->grads, t->nparams, t->hook_user))
        rc = byol__err(BYOL_E_CANCELLED, "%s: the gradient hook cancelled the step", fn);
    /* every rank agrees, hook or not: a hook may be installed on some ranks only */
    if ((rc = agree(t, rc, "the update (a gradient hook cancelled it)", fn)) != BYOL_OK) {
        snapshot(t, 1);
        return rc;
    }
    int64_t k = t->step;
    rc = byol_trainer_apply_update(t, s);
    if (rc != BYOL_OK) {
        snapshot(t, 1);
        return rc;
    }
    /* SimSiam has no moving average: its target is the online network */
    s->tau = t->simsiam ? 0.0 : byol__tau_at(k, t->total_steps, t->tau_base);
    return t->simsiam ? BYOL_OK : byol_trainer_update_target(t, s->tau);
}

/* ---- access ---------------------------------------------------------------- */

float *byol_trainer_buffer(byol_trainer *t, int32_t which, int64_t *count)
{
    if (!t || (which != BYOL_BUFFER_PARAMS && which != BYOL_BUFFER_GRADS)) {
        byol__err(BYOL_E_INVALID_ARG, "byol_trainer_buffer: NULL trainer or buffer %d is not "
                  "PARAMS or GRADS", (int)which);
        return NULL;
    }
    if (count)
        *count = t->nparams;
    return which == BYOL_BUFFER_PARAMS ? t->params : t->grads;
}

byol_net *byol_trainer_encoder(byol_trainer *t) { return t ? t->online[BYOL__ENC] : NULL; }

double byol_schedule_lr(int64_t step, int64_t total_steps, int64_t warmup_steps, double peak_lr)
{
    return byol__lr_at(step, total_steps, warmup_steps, peak_lr);
}

double byol_schedule_tau(int64_t step, int64_t total_steps, double tau_base)
{
    return byol__tau_at(step, total_steps, tau_base);
}
