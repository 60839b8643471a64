/* Forward, backward and embed over the planned arena. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "nn/graph.h"

static int cancelled(const byol_net *net)
{
    return !net->cancel_held && byol__nn_cancel_requested(net);
}

int byol__nn_cancel_requested(const byol_net *net)
{
    return net->cancel && net->cancel(net->cancel_user);
}

void byol__nn_hold_cancel(byol_net *net, int hold) { net->cancel_held = hold != 0; }

byol__conv_geom byol__net_conv_geom(const byol_net *net, const byol__node *n, int64_t batch)
{
    const byol__node *s = &net->nodes[n->src[0]];
    byol__conv_geom g = { .n = batch, .h = s->h, .w = s->w, .cin = s->c, .cout = n->c,
                          .kh = n->k, .kw = n->k, .stride = n->stride, .pad = n->pad,
                          .winograd = net->opts.conv_winograd, .bf16 = net->opts.bf16 };
    byol__conv_geom_init(&g);
    return g;
}

static byol__pool_geom pool_geom(const byol_net *net, const byol__node *n, int64_t batch)
{
    const byol__node *s = &net->nodes[n->src[0]];
    byol__pool_geom g = { .n = batch, .h = s->h, .w = s->w, .c = s->c, .k = n->k,
                          .stride = n->stride, .pad = n->pad };
    byol__pool_geom_init(&g);
    return g;
}

/* ---- shape checks ---------------------------------------------------------- */

static void shape_text(const byol_tensor *t, char *buf, size_t len)
{
    int k = snprintf(buf, len, "[");
    for (int32_t d = 0; d < t->ndim && d < 4 && k > 0 && (size_t)k < len; d++)
        k += snprintf(buf + k, len - (size_t)k, d ? ",%lld" : "%lld", (long long)t->shape[d]);
    if (k > 0 && (size_t)k < len)
        snprintf(buf + k, len - (size_t)k, "]");
}

/* Checks t is [batch, ...dims of node n] (batch taken from t if *batch is 0). */
static int check_tensor(const byol_tensor *t, const byol__node *n, int64_t *batch,
                        const char *fn, const char *what)
{
    if (!t || !t->data)
        return byol__err(BYOL_E_INVALID_ARG, "%s: %s tensor or its data is NULL", fn, what);
    if (t->struct_size < sizeof *t)
        return byol__err(BYOL_E_ABI, "%s: %s struct_size %u < %zu", fn, what,
                         (unsigned)t->struct_size, sizeof *t);
    int32_t ndim = n->rank == 4 ? 4 : 2;
    int64_t want[4] = { *batch ? *batch : t->shape[0], n->c, n->h, n->w };
    int ok = t->ndim == ndim && want[0] >= 1;
    for (int32_t d = 0; ok && d < ndim; d++)
        ok = t->shape[d] == want[d];
    if (!ok) {
        char got[96];
        shape_text(t, got, sizeof got);
        if (ndim == 4)
            return byol__err(BYOL_E_SHAPE, "%s: %s has shape %s, expected [N,%lld,%lld,%lld]%s",
                             fn, what, got, (long long)n->c, (long long)n->h, (long long)n->w,
                             *batch ? " with the same N" : "");
        return byol__err(BYOL_E_SHAPE, "%s: %s has shape %s, expected [N,%lld]%s", fn, what,
                         got, (long long)n->c, *batch ? " with the same N" : "");
    }
    *batch = t->shape[0];
    return BYOL_OK;
}

static int check_finite(const float *x, int64_t n, const char *fn)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return byol__err(BYOL_E_NONFINITE, "%s: input element %lld is %s", fn,
                             (long long)i, isnan(x[i]) ? "NaN" : "infinite");
    return BYOL_OK;
}

/* ---- caller layout (NCHW) <-> internal layout (NHWC) ------------------------ */

/* A caller tensor of node n's shape into an internal buffer. */
static void from_caller(const byol__node *n, int64_t batch, const float *src, float *dst)
{
    if (n->rank == 4)
        byol__nchw_to_nhwc(batch, n->c, n->h, n->w, src, dst);
    else
        memcpy(dst, src, (size_t)(batch * n->c) * sizeof(float));
}

static void to_caller(const byol__node *n, int64_t batch, const float *src, float *dst)
{
    if (n->rank == 4)
        byol__nhwc_to_nchw(batch, n->c, n->h, n->w, src, dst);
    else
        memcpy(dst, src, (size_t)(batch * n->c) * sizeof(float));
}

/* ---- forward ---------------------------------------------------------------- */

/* Does node n's forward pass apply the ReLU that follows it? */
static int applies_relu(const byol_net *net, const byol__node *n)
{
    return byol__relu_fused(net, (int32_t)(n - net->nodes) + 1);
}

/* The reduction point of synchronized BatchNorm: len doubles at v summed
 * over the ranks (net->sync set). */
static int bn_allreduce(const byol_net *net, const byol__node *n, double *v, int64_t len,
                        const char *pass)
{
    if (net->sync->allreduce_f64(v, len, net->sync->user) == 0)
        return BYOL_OK;
    return byol__err(BYOL_E_COMM, "the all-reduce of BatchNorm %s's %s sums (%lld doubles) "
                     "failed on rank %d", n->name ? n->name : "?", pass, (long long)len,
                     (int)net->sync->rank);
}

static int bn_forward(byol_net *net, byol__node *n, int64_t batch, const float *x, int training)
{
    int64_t m = batch * n->h * n->w;
    float *gamma = net->params + n->w_off, *beta = net->params + n->b_off;
    float *rm = net->state + n->mean_off, *rv = net->state + n->var_off;
    const int relu = applies_relu(net, n);
    if (!training) {
        byol__bn_forward_eval(m, n->c, x, rm, rv, net->opts.bn_eps, gamma, beta, relu,
                              n->out);
        return BYOL_OK;
    }
    double *sum = net->bn_sums, *sumsq = sum + n->c;
    byol__bn_sums(m, n->c, x, sum, sumsq);
    n->count = m;
    if (net->sync) {
        /* Reduction point: the sums and the row count of the global batch
         * (the count in a double is exact below 2^53 rows) */
        sumsq[n->c] = (double)m;
        int rc = bn_allreduce(net, n, sum, 2 * n->c + 1, "forward");
        if (rc != BYOL_OK)
            return rc;
        n->count = (int64_t)sumsq[n->c];
    }
    byol__bn_stats(n->count, n->c, sum, sumsq, net->opts.bn_eps, net->opts.bn_momentum,
                   net->opts.bn_unbiased, n->mean, n->rstd, rm, rv);
    byol__bn_apply(m, n->c, x, n->mean, n->rstd, gamma, beta, relu, n->out);
    net->counters[n->counter]++;
    return BYOL_OK;
}

static int forward_node(byol_net *net, byol__node *n, int64_t batch, int training)
{
    const byol__node *s = &net->nodes[n->src[0]];
    const float *x = s->out;
    switch (n->op) {
    case BYOL__OP_CONV: {
        byol__conv_geom g = byol__net_conv_geom(net, n, batch);
        byol__conv2d_pack(&g, net->params + n->w_off, n->wp);
        byol__conv2d_forward(&g, x, net->params + n->w_off, n->wp,
                             n->has_bias ? net->params + n->b_off : NULL, n->out, net->scratch);
        break;
    }
    case BYOL__OP_BN: return bn_forward(net, n, batch, x, training);
    case BYOL__OP_RELU:
        if (!byol__relu_fused(net, (int32_t)(n - net->nodes)))
            byol__relu_forward(batch * byol__node_size(n), x, n->out);
        break;
    case BYOL__OP_MAXPOOL: {
        byol__pool_geom g = pool_geom(net, n, batch);
        byol__maxpool_forward(&g, x, n->out, n->argmax);
        break;
    }
    case BYOL__OP_AVGPOOL: byol__avgpool_forward(batch, s->h * s->w, s->c, x, n->out); break;
    case BYOL__OP_LINEAR:
        byol__linear_forward(batch, s->c, n->c, x, net->params + n->w_off,
                             n->has_bias ? net->params + n->b_off : NULL, n->out,
                             net->opts.bf16);
        break;
    case BYOL__OP_ADD:
        byol__add_forward(batch * byol__node_size(n), x, net->nodes[n->src[1]].out,
                          applies_relu(net, n), n->out);
        break;
    case BYOL__OP_FLATTEN: byol__flatten_forward(batch, s->h, s->w, s->c, x, n->out); break;
    case BYOL__OP_INPUT: break;
    }
    return BYOL_OK;
}

/* Runs all layers on node 0's activation. A training pass leaves what the
 * backward pass needs, and records its batch for it; sync is the
 * communicator of synchronized BatchNorm, or NULL. */
static int run_forward(byol_net *net, int64_t batch, int training, const byol_comm *sync)
{
    byol__set_threads(net->opts.threads);
    net->fwd_batch = 0;
    net->sync = sync;
    for (int32_t i = 1; i < net->nnodes; i++) {
        if (cancelled(net))
            return byol__err(BYOL_E_CANCELLED, "forward cancelled before layer %d", (int)i);
        int rc = forward_node(net, &net->nodes[i], batch, training);
        if (rc != BYOL_OK)
            return rc;
    }
    net->fwd_batch = training ? batch : 0;
    return BYOL_OK;
}

/* A caller tensor (NCHW) into the arena's input buffer, then all layers. */
static int run_from_caller(byol_net *net, const float *x, int64_t batch, int training)
{
    net->nodes[0].out = net->in_slot;
    from_caller(&net->nodes[0], batch, x, net->in_slot);
    return run_forward(net, batch, training, NULL);
}

static void copy_output(const byol_net *net, int64_t batch, float *y)
{
    const byol__node *o = &net->nodes[net->output];
    to_caller(o, batch, o->out, y);
}

static int check_planned(const byol_net *net, int64_t batch, const char *fn)
{
    if (net->max_batch == 0)
        return byol__err(BYOL_E_BAD_STATE, "%s: no arena planned; call byol_net_plan first", fn);
    if (batch > net->max_batch)
        return byol__err(BYOL_E_SHAPE, "%s: batch %lld exceeds the planned %lld (byol_net_plan)",
                         fn, (long long)batch, (long long)net->max_batch);
    return BYOL_OK;
}

int byol_net_forward(byol_net *net, const byol_tensor *x, byol_tensor *y)
{
    static const char fn[] = "byol_net_forward";
    if (!net)
        return byol__err(BYOL_E_INVALID_ARG, "%s: net is NULL", fn);
    int64_t batch = 0;
    int rc = check_tensor(x, &net->nodes[0], &batch, fn, "input");
    if (rc == BYOL_OK)
        rc = check_tensor(y, &net->nodes[net->output], &batch, fn, "output");
    if (rc == BYOL_OK)
        rc = check_planned(net, batch, fn);
    if (rc == BYOL_OK)
        rc = check_finite(x->data, batch * byol__node_size(&net->nodes[0]), fn);
    if (rc == BYOL_OK)
        rc = run_from_caller(net, x->data, batch, net->training);
    if (rc == BYOL_OK)
        copy_output(net, batch, y->data);
    return rc;
}

void byol__nn_input_from_nchw(const byol_net *net, int64_t batch, const float *x, float *y)
{
    from_caller(&net->nodes[0], batch, x, y);
}

int byol__nn_forward(byol_net *net, const float *x, int64_t batch, const float **y)
{
    net->nodes[0].out = (float *)(uintptr_t)x; /* read only (nn.h): no layer writes node 0 */
    int rc = run_forward(net, batch, 1, net->comm);
    *y = net->nodes[net->output].out;
    return rc;
}

/* ---- backward --------------------------------------------------------------- */

/* Where node n's backward writes the gradient of source s: NULL when s is
 * the input and the caller wants no dx (only conv/linear accept that). */
static float *grad_target(const byol_net *net, const byol__node *n, int32_t s, int want_dx)
{
    int skippable = n->op == BYOL__OP_CONV || n->op == BYOL__OP_LINEAR;
    return (s == 0 && !want_dx && skippable) ? NULL : net->nodes[s].grad;
}

/* With a fused ReLU, n->grad (the ReLU's buffer, handed down in place)
 * still holds the ReLU's output gradient, masked here by its output, which
 * lies in n->out. */
static void add_param_grads(int64_t c, const double *dsum, const double *dxhat, float *dgamma,
                            float *dbeta)
{
    for (int64_t j = 0; j < c; j++) {
        dgamma[j] += (float)dxhat[j];
        dbeta[j] += (float)dsum[j];
    }
}

/* With synchronized BatchNorm (net->sync), dy holds this rank's rows of
 * dL/dy for the GLOBAL loss L (the trainer scales the loss by the global
 * batch), and x-hat was normalised by the global statistics. Then
 *   dL/dx_i = gamma rstd (dy_i - sum_all dy / M - xhat_i sum_all(dy xhat) / M)
 * over all M rows of all ranks: dx needs the sums over all ranks, so they
 * are all-reduced here (the reduction point). dgamma = sum_all(dy xhat) and
 * dbeta = sum_all(dy) are parameter gradients, which the trainer sums over
 * the ranks with the rest of the gradient buffer; each rank therefore adds
 * only its LOCAL sums, or they would be counted size times.
 * (Bucketed overlap of the gradient all-reduce with this backward pass
 * would start its sums here, once a bucket of layers is done.) */
static int bn_backward(byol_net *net, byol__node *n, int64_t batch, float *dx, int accum)
{
    const byol__node *s = &net->nodes[n->src[0]];
    int64_t m = batch * n->h * n->w;
    double *dsum = net->bn_sums, *dxhat = dsum + n->c;
    float *dgamma = net->grads + n->w_off, *dbeta = net->grads + n->b_off;
    const float *relu_y = applies_relu(net, n) ? n->out : NULL;
    byol__bn_backward_sums(m, n->c, s->out, n->grad, relu_y, n->mean, n->rstd, dsum, dxhat);
    if (net->sync) {
        double *all = dxhat + n->c;
        memcpy(all, dsum, (size_t)(2 * n->c) * sizeof *all);
        int rc = bn_allreduce(net, n, all, 2 * n->c, "backward");
        if (rc != BYOL_OK)
            return rc;
        add_param_grads(n->c, dsum, dxhat, dgamma, dbeta);
        dsum = all;
        dxhat = all + n->c;
        dgamma = dbeta = NULL;
    }
    byol__bn_backward_apply(m, n->c, n->count, s->out, n->grad, relu_y, n->mean, n->rstd,
                            net->params + n->w_off, dsum, dxhat, dx, accum, dgamma, dbeta);
    return BYOL_OK;
}

static int backward_node(byol_net *net, int32_t i, int64_t batch, int want_dx)
{
    byol__node *n = &net->nodes[i];
    int32_t si = n->src[0];
    const byol__node *s = &net->nodes[si];
    float *dx = grad_target(net, n, si, want_dx);
    int accum = net->touched[si];
    switch (n->op) {
    case BYOL__OP_CONV: {
        byol__conv_geom g = byol__net_conv_geom(net, n, batch);
        byol__conv2d_backward(&g, s->out, net->params + n->w_off, n->wp, n->grad, dx, accum,
                              net->grads + n->w_off, n->has_bias ? net->grads + n->b_off : NULL,
                              net->scratch);
        break;
    }
    case BYOL__OP_BN: {
        int rc = bn_backward(net, n, batch, dx, accum);
        if (rc != BYOL_OK)
            return rc;
        break;
    }
    case BYOL__OP_RELU:
        /* fused into a BatchNorm or an add: its backward masks (dx is n->grad) */
        if (!byol__relu_fused(net, i))
            byol__relu_backward(batch * byol__node_size(n), n->out, n->grad, dx, accum);
        break;
    case BYOL__OP_MAXPOOL: {
        byol__pool_geom g = pool_geom(net, n, batch);
        byol__maxpool_backward(&g, n->argmax, n->grad, dx, accum);
        break;
    }
    case BYOL__OP_AVGPOOL: byol__avgpool_backward(batch, s->h * s->w, s->c, n->grad, dx, accum); break;
    case BYOL__OP_LINEAR:
        byol__linear_backward(batch, s->c, n->c, s->out, net->params + n->w_off, n->grad, dx,
                              accum, net->grads + n->w_off,
                              n->has_bias ? net->grads + n->b_off : NULL, net->opts.bf16);
        break;
    case BYOL__OP_ADD: {
        const int64_t len = batch * byol__node_size(n);
        const int32_t s1 = n->src[1];
        if (applies_relu(net, n)) {
            /* x + x adds twice into one gradient, as the copies below do */
            byol__add_relu_backward(len, n->out, n->grad, dx, accum, net->nodes[s1].grad,
                                    s1 == si || net->touched[s1]);
        } else {
            byol__copy_grad(len, n->grad, dx, accum);
            net->touched[si] = 1;
            byol__copy_grad(len, n->grad, net->nodes[s1].grad, net->touched[s1]);
        }
        net->touched[si] = 1;
        net->touched[s1] = 1;
        break;
    }
    case BYOL__OP_FLATTEN: byol__flatten_backward(batch, s->h, s->w, s->c, n->grad, dx, accum); break;
    case BYOL__OP_INPUT: break;
    }
    if (dx)
        net->touched[si] = 1;
    return BYOL_OK;
}

/* Runs the backward pass from the output node's gradient over the batch of
 * the last training forward. */
static int run_backward(byol_net *net, int want_dx)
{
    byol__set_threads(net->opts.threads);
    memset(net->touched, 0, (size_t)net->nnodes);
    net->touched[net->output] = 1;
    for (int32_t i = net->nnodes - 1; i >= 1; i--) {
        if (cancelled(net))
            return byol__err(BYOL_E_CANCELLED, "backward cancelled at layer %d; gradients are "
                             "partial", (int)i);
        int rc = net->touched[i] ? backward_node(net, i, net->fwd_batch, want_dx) : BYOL_OK;
        if (rc != BYOL_OK)
            return rc;
    }
    return BYOL_OK;
}

int byol_net_backward(byol_net *net, const byol_tensor *dy, byol_tensor *dx)
{
    static const char fn[] = "byol_net_backward";
    if (!net)
        return byol__err(BYOL_E_INVALID_ARG, "%s: net is NULL", fn);
    if (net->fwd_batch == 0)
        return byol__err(BYOL_E_BAD_STATE, "%s: needs a training-mode byol_net_forward first "
                         "(none since the last plan, mode change, embed or load)", fn);
    int64_t batch = net->fwd_batch;
    int rc = check_tensor(dy, &net->nodes[net->output], &batch, fn, "dy");
    if (rc == BYOL_OK && dx)
        rc = check_tensor(dx, &net->nodes[0], &batch, fn, "dx");
    if (rc != BYOL_OK)
        return rc;
    byol__node *o = &net->nodes[net->output];
    o->grad = net->dy_slot;
    from_caller(o, batch, dy->data, o->grad);
    rc = run_backward(net, dx != NULL);
    if (rc != BYOL_OK || !dx)
        return rc;
    const byol__node *in = &net->nodes[0];
    if (!net->touched[0])
        memset(dx->data, 0, (size_t)(batch * byol__node_size(in)) * sizeof(float));
    else
        to_caller(in, batch, in->grad, dx->data);
    return BYOL_OK;
}

void byol__nn_set_comm(byol_net *net, const byol_comm *comm) { net->comm = comm; }

int byol__nn_backward(byol_net *net, const float *dy, const float **dx)
{
    net->nodes[net->output].grad = (float *)(uintptr_t)dy; /* read only (nn.h) */
    int rc = run_backward(net, dx != NULL);
    if (rc != BYOL_OK || !dx)
        return rc;
    byol__node *in = &net->nodes[0];
    if (!net->touched[0])
        memset(in->grad, 0, (size_t)(net->fwd_batch * byol__node_size(in)) * sizeof(float));
    *dx = in->grad;
    return BYOL_OK;
}

/* ---- embed -------------------------------------------------------------------- */

int byol__net_embed_each(byol_net *net, const float *x, int64_t batch, int64_t d,
                         byol__net_emit emit, void *arg, float *y, const char *fn)
{
    if (net->max_batch == 0)
        return check_planned(net, 1, fn);
    int64_t in_size = byol__node_size(&net->nodes[0]);
    int rc = check_finite(x, batch * in_size, fn);
    for (int64_t at = 0; rc == BYOL_OK && at < batch; at += net->max_batch) {
        int64_t nb = batch - at < net->max_batch ? batch - at : net->max_batch;
        rc = run_from_caller(net, x + at * in_size, nb, 0);
        if (rc == BYOL_OK)
            emit(net, nb, arg, y + at * d);
    }
    return rc;
}

static void emit_output(const byol_net *net, int64_t nb, void *arg, float *y)
{
    (void)arg;
    copy_output(net, nb, y);
}

int byol_net_embed(byol_net *net, const byol_tensor *x, byol_tensor *y)
{
    static const char fn[] = "byol_net_embed";
    if (!net)
        return byol__err(BYOL_E_INVALID_ARG, "%s: net is NULL", fn);
    int64_t batch = 0;
    const byol__node *o = &net->nodes[net->output];
    int64_t d = byol__node_size(o);
    int rc = check_tensor(x, &net->nodes[0], &batch, fn, "input");
    if (rc != BYOL_OK)
        return rc;
    if (!y || !y->data || y->struct_size < sizeof *y || y->ndim != 2 || y->shape[0] != batch ||
        y->shape[1] != d)
        return byol__err(BYOL_E_SHAPE, "%s: output must be [%lld,%lld]", fn, (long long)batch,
                         (long long)d);
    return byol__net_embed_each(net, x->data, batch, d, emit_output, NULL, y->data, fn);
}
