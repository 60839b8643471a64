/* Finishing a builder into a net: pruning, the state_dict table, the flat
 * buffers and the initial parameter values. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "nn/graph.h"

/* Marks the nodes the output depends on. */
static void mark_reachable(const byol_builder *b, int32_t output, uint8_t *keep)
{
    memset(keep, 0, (size_t)b->nnodes);
    keep[0] = 1;
    keep[output] = 1;
    for (int32_t i = output; i > 0; i--) {
        if (!keep[i])
            continue;
        for (int j = 0; j < 2; j++)
            if (b->nodes[i].src[j] >= 0)
                keep[b->nodes[i].src[j]] = 1;
    }
}

/* Appends one tensor to the table and reserves its space in a buffer. */
static void add_tensor(byol_net *net, int32_t node, int32_t buffer,
                       uint32_t flags, int32_t ndim, const int64_t *shape, int64_t *off,
                       char *name)
{
    byol__tensor *t = &net->tensors[net->ntensors++];
    t->node = node;
    t->buffer = buffer;
    t->flags = flags;
    t->ndim = ndim;
    t->numel = 1;
    for (int32_t d = 0; d < ndim; d++) {
        t->shape[d] = shape[d];
        t->numel *= shape[d];
    }
    int64_t *count = buffer == BYOL_BUFFER_PARAMS ? &net->nparams : &net->nstate;
    t->offset = *count;
    *count += t->numel;
    *off = t->offset;
    t->name = name;
}

static int tensors_of(const byol__node *n)
{
    switch (n->op) {
    case BYOL__OP_CONV:
    case BYOL__OP_LINEAR: return 1 + n->has_bias;
    case BYOL__OP_BN: return 4;
    default: return 0;
    }
}

/* Builds the state_dict table in node order, as PyTorch registers them. */
static int build_tensors(byol_net *net)
{
    int64_t total = 0;
    for (int32_t i = 0; i < net->nnodes; i++)
        total += tensors_of(&net->nodes[i]);
    net->tensors = byol__calloc((size_t)(total ? total : 1), sizeof *net->tensors);
    if (!net->tensors)
        return byol__err(BYOL_E_NOMEM, "net: out of memory for the tensor table");
    static const char *const bn_suffix[4] = { "weight", "bias", "running_mean", "running_var" };
    for (int32_t i = 0; i < net->nnodes; i++) {
        byol__node *n = &net->nodes[i];
        n->counter = n->op == BYOL__OP_BN ? net->ncounters++ : -1;
        int nt = tensors_of(n);
        for (int k = 0; k < nt; k++) {
            const char *suffix = n->op == BYOL__OP_BN ? bn_suffix[k] : (k ? "bias" : "weight");
            size_t len = strlen(n->name) + strlen(suffix) + 2;
            char *name = byol__malloc(len);
            if (!name)
                return byol__err(BYOL_E_NOMEM, "net: out of memory for tensor names");
            snprintf(name, len, "%s.%s", n->name, suffix);
            const byol__node *s = &net->nodes[n->src[0]];
            if (n->op == BYOL__OP_CONV && k == 0) {
                int64_t shape[4] = { n->c, s->c, n->k, n->k };
                add_tensor(net, i, BYOL_BUFFER_PARAMS, 0, 4, shape, &n->w_off, name);
            } else if (n->op == BYOL__OP_LINEAR && k == 0) {
                int64_t shape[2] = { n->c, s->c };
                add_tensor(net, i, BYOL_BUFFER_PARAMS, 0, 2, shape, &n->w_off, name);
            } else if (n->op != BYOL__OP_BN) {
                add_tensor(net, i, BYOL_BUFFER_PARAMS, BYOL_TENSOR_BIAS, 1, &n->c,
                           &n->b_off, name);
            } else {
                int32_t buf = k < 2 ? BYOL_BUFFER_PARAMS : BYOL_BUFFER_STATE;
                int64_t *off = k == 0 ? &n->w_off : k == 1 ? &n->b_off
                             : k == 2 ? &n->mean_off : &n->var_off;
                add_tensor(net, i, buf, BYOL_TENSOR_NORM, 1, &n->c, off, name);
            }
        }
    }
    return BYOL_OK;
}

/* ---- initialisation ------------------------------------------------------ */

static void fill_normal(float *x, int64_t n, double std, int truncate, byol__rng *r)
{
    for (int64_t i = 0; i < n; i++) {
        double v = byol__rng_normal(r);
        while (truncate && fabs(v) > 2.0)
            v = byol__rng_normal(r);
        x[i] = (float)(v * std);
    }
}

static void fill_uniform(float *x, int64_t n, double bound, byol__rng *r)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)((2.0 * byol__rng_uniform(r) - 1.0) * bound);
}

static void fill_const(float *x, int64_t n, float v)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = v;
}

/* torchvision: conv kaiming-normal fan_out, Linear and biases U(+-1/sqrt(fan_in));
 * Haiku: truncated normal 1/sqrt(fan_in) at +-2 std (not rescaled), biases 0. */
static void init_tensor(byol_net *net, int64_t ti, int zero_gamma)
{
    const byol__tensor *t = &net->tensors[ti];
    const byol__node *n = &net->nodes[t->node];
    float *x = (t->buffer == BYOL_BUFFER_PARAMS ? net->params : net->state) + t->offset;
    byol__rng r;
    byol__rng_init(&r, net->opts.seed, 0x494e4954u /* "INIT" */, (uint32_t)ti, 0);
    int64_t fan_in = net->nodes[n->src[0]].c * (n->op == BYOL__OP_CONV ? n->k * n->k : 1);
    if (n->op == BYOL__OP_BN) {
        int is_var = t->offset == n->var_off && t->buffer == BYOL_BUFFER_STATE;
        int is_gamma = t->offset == n->w_off && t->buffer == BYOL_BUFFER_PARAMS;
        fill_const(x, t->numel, (is_var || (is_gamma && !zero_gamma)) ? 1.0f : 0.0f);
    } else if (net->opts.haiku_init) {
        if (t->flags & BYOL_TENSOR_BIAS)
            fill_const(x, t->numel, 0.0f);
        else
            fill_normal(x, t->numel, 1.0 / sqrt((double)fan_in), 1, &r);
    } else if (n->op == BYOL__OP_CONV && !(t->flags & BYOL_TENSOR_BIAS)) {
        fill_normal(x, t->numel, sqrt(2.0 / (double)(n->c * n->k * n->k)), 0, &r);
    } else {
        fill_uniform(x, t->numel, 1.0 / sqrt((double)fan_in), &r);
    }
}

/* Is net node `node` one of the builder nodes in list (through remap)? */
static int is_listed(int32_t node, const int32_t *list, int32_t n, const int32_t *remap)
{
    for (int32_t i = 0; i < n; i++)
        if (remap[list[i]] == node)
            return 1;
    return 0;
}

/* ---- finish -------------------------------------------------------------- */

/* Copies the kept nodes into the net, renumbering their sources. */
static int copy_nodes(byol_net *net, const byol_builder *b, int32_t output,
                      const uint8_t *keep, int32_t *remap)
{
    int32_t n = 0;
    for (int32_t i = 0; i < b->nnodes; i++)
        remap[i] = keep[i] ? n++ : -1;
    net->nodes = byol__calloc((size_t)n, sizeof *net->nodes);
    if (!net->nodes)
        return byol__err(BYOL_E_NOMEM, "net: out of memory");
    net->nnodes = n; /* before copying names, so a failure frees those copied */
    for (int32_t i = 0; i < b->nnodes; i++) {
        if (!keep[i])
            continue;
        byol__node *d = &net->nodes[remap[i]];
        *d = b->nodes[i];
        d->name = NULL;
        for (int j = 0; j < 2; j++)
            d->src[j] = d->src[j] >= 0 ? remap[d->src[j]] : -1;
        if (b->nodes[i].name && !(d->name = byol__strdup(b->nodes[i].name)))
            return byol__err(BYOL_E_NOMEM, "net: out of memory");
    }
    net->output = remap[output];
    for (int32_t i = 1; i < n; i++)
        for (int j = 0; j < 2; j++)
            if (net->nodes[i].src[j] >= 0)
                net->nodes[net->nodes[i].src[j]].consumers++;
    return BYOL_OK;
}

static int alloc_buffers(byol_net *net)
{
    /* One extra float keeps every buffer non-NULL even when empty. */
    net->params = byol__calloc((size_t)net->nparams + 1, sizeof(float));
    net->grads = byol__calloc((size_t)net->nparams + 1, sizeof(float));
    net->state = byol__calloc(byol__nn_state_bytes(net), 1);
    if (!net->params || !net->grads || !net->state)
        return byol__err(BYOL_E_NOMEM, "net: out of memory for %lld parameters",
                         (long long)net->nparams);
    net->counters = (int64_t *)(void *)((char *)net->state + byol__net_counters_offset(net));
    return BYOL_OK;
}

int byol__builder_finish(byol_builder *b, int32_t output, const int32_t *zero_gamma,
                         int32_t n_zero_gamma, byol_net **out)
{
    if (!b || !out)
        return byol__err(BYOL_E_INVALID_ARG, "byol_builder_finish: NULL argument");
    *out = NULL;
    if (output < 1 || output >= b->nnodes)
        return byol__err(BYOL_E_INVALID_ARG, "byol_builder_finish: output node %d does not exist "
                         "(nodes 1..%d)", (int)output, (int)b->nnodes - 1);
    byol_net *net = byol__calloc(1, sizeof *net);
    uint8_t *keep = byol__malloc((size_t)b->nnodes);
    int32_t *remap = byol__malloc((size_t)b->nnodes * sizeof *remap);
    int rc = (!net || !keep || !remap) ? byol__err(BYOL_E_NOMEM, "net: out of memory") : BYOL_OK;
    if (rc == BYOL_OK) {
        net->opts = b->opts;
        net->training = 1;
        mark_reachable(b, output, keep);
        rc = copy_nodes(net, b, output, keep, remap);
    }
    if (rc == BYOL_OK)
        rc = build_tensors(net);
    if (rc == BYOL_OK)
        rc = alloc_buffers(net);
    for (int64_t t = 0; rc == BYOL_OK && t < net->ntensors; t++)
        init_tensor(net, t, is_listed(net->tensors[t].node, zero_gamma, n_zero_gamma, remap));
    byol__free(keep);
    byol__free(remap);
    if (rc != BYOL_OK) {
        byol_net_destroy(net);
        return rc;
    }
    *out = net;
    return BYOL_OK;
}

int byol_builder_finish(byol_builder *b, int32_t output, byol_net **out)
{
    return byol__builder_finish(b, output, NULL, 0, out);
}

void byol__nn_reinit(byol_net *net, uint64_t seed)
{
    net->opts.seed = seed;
    for (int64_t t = 0; t < net->ntensors; t++)
        init_tensor(net, t, 0);
}

int byol__nn_clone(const byol_net *src, byol_net **out)
{
    byol_builder b;
    memset(&b, 0, sizeof b);
    b.opts = src->opts;
    b.nodes = byol__calloc((size_t)src->nnodes, sizeof *b.nodes);
    if (!b.nodes)
        return byol__err(BYOL_E_NOMEM, "net: out of memory copying a network");
    b.cap = src->nnodes;
    int rc = BYOL_OK;
    for (int32_t i = 0; i < src->nnodes; i++) {
        b.nodes[i] = src->nodes[i];
        b.nodes[i].name = NULL;
        b.nodes[i].consumers = 0; /* recounted by finish */
        b.nnodes = i + 1;
        if (src->nodes[i].name && !(b.nodes[i].name = byol__strdup(src->nodes[i].name))) {
            rc = byol__err(BYOL_E_NOMEM, "net: out of memory copying a network");
            break;
        }
    }
    if (rc == BYOL_OK)
        rc = byol__builder_finish(&b, src->output, NULL, 0, out);
    byol__builder_free(&b);
    if (rc != BYOL_OK)
        return rc;
    byol_net *n = *out;
    memcpy(n->params, src->params, (size_t)src->nparams * sizeof(float));
    byol__nn_state_save(src, n->state);
    return BYOL_OK;
}
