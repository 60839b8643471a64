/* Planning the activation arena for a maximum batch size.
 *
 * Every activation a backward pass needs is kept; a ReLU whose input has no
 * other consumer works in place, and so does a residual add over an input
 * nothing else reads. Gradient buffers live only from their first
 * write to their last read, so they are recycled along the backward order:
 * a ResNet-18 needs a handful of them, not one per node. */
#include <string.h>

#include "core/internal.h"
#include "nn/graph.h"

#define ALIGN_FLOATS 16 /* 64 bytes */

static int64_t round_up(int64_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

int byol__relu_in_place(const byol_net *net, int32_t i)
{
    const byol__node *n = &net->nodes[i];
    if (n->op != BYOL__OP_RELU || n->src[0] == 0)
        return 0;
    const byol__node *s = &net->nodes[n->src[0]];
    return s->consumers == 1 && s->op != BYOL__OP_RELU;
}

int byol__relu_fused(const byol_net *net, int32_t i)
{
    /* Not the net's output: byol__nn_backward points the output's gradient
     * at the caller's dy, which the node before would never see. */
    if (i < 2 || i >= net->nnodes || i == net->output ||
        net->nodes[i].src[0] != i - 1 || !byol__relu_in_place(net, i))
        return 0;
    const int op = net->nodes[i - 1].op;
    return op == BYOL__OP_BN || op == BYOL__OP_ADD;
}

/* Can an add write over input s? Only the add reads it, and no backward
 * pass reads it either: not the net's input (a caller's), not a ReLU's
 * output (its backward's mask). BatchNorm and convolution backward passes
 * read their inputs, not their outputs (a BatchNorm with a fused ReLU reads
 * its output, but that output's one reader is the ReLU); an add reads
 * neither. In a ResNet
 * block this is the last BatchNorm's output, one activation per block
 * (700 MB of resnet50's at batch 32). */
static int add_may_overwrite(const byol_net *net, int32_t s)
{
    const byol__node *n = &net->nodes[s];
    return s != 0 && n->consumers == 1 && n->op != BYOL__OP_RELU;
}

/* The input whose buffer node i writes its output over, or -1. */
static int32_t out_over(const byol_net *net, int32_t i)
{
    const byol__node *n = &net->nodes[i];
    if (byol__relu_in_place(net, i))
        return n->src[0];
    if (n->op != BYOL__OP_ADD)
        return -1;
    for (int k = 0; k < 2; k++)
        if (add_may_overwrite(net, n->src[k]))
            return n->src[k];
    return -1;
}

/* Offsets (in floats from the arena start) of every region. */
typedef struct layout {
    int64_t total;
    int64_t *out, *grad, *wp, *mean, *rstd, *argmax;
    int64_t scratch, bn_sums, touched;
    /* recycled gradient blocks */
    int64_t *block_off, *block_size;
    uint8_t *block_free;
    int32_t nblocks;
    int32_t *block_of;       /* per node */
} layout;

static int64_t take(layout *l, int64_t n)
{
    int64_t off = l->total;
    l->total += round_up(n > 0 ? n : 1);
    return off;
}

/* Best-fit reuse of a free gradient block, else a new one. */
static void grad_alloc(layout *l, int32_t node, int64_t n)
{
    int32_t best = -1;
    for (int32_t b = 0; b < l->nblocks; b++)
        if (l->block_free[b] && l->block_size[b] >= n &&
            (best < 0 || l->block_size[b] < l->block_size[best]))
            best = b;
    if (best < 0) {
        best = l->nblocks++;
        l->block_size[best] = n;
        l->block_off[best] = take(l, n);
    }
    l->block_free[best] = 0;
    l->block_of[node] = best;
    l->grad[node] = l->block_off[best];
}

static void plan_gradients(const byol_net *net, int64_t batch, layout *l)
{
    int32_t n = net->nnodes;
    const byol__node *nd = net->nodes;
    grad_alloc(l, net->output, batch * byol__node_size(&nd[net->output]));
    for (int32_t i = n - 1; i >= 1; i--) {
        /* Backward of node i writes its sources' gradients: the first write
         * to a gradient comes from its highest-numbered consumer. */
        for (int j = 0; j < 2; j++) {
            int32_t s = nd[i].src[j];
            if (s < 0 || (j == 1 && s == nd[i].src[0]))
                continue;
            int32_t last = -1;
            for (int32_t c = s + 1; c < n; c++)
                if (nd[c].src[0] == s || nd[c].src[1] == s)
                    last = c;
            if (last == i && !byol__relu_in_place(net, i))
                grad_alloc(l, s, batch * byol__node_size(&nd[s]));
        }
        /* An in-place ReLU hands its buffer to its input; otherwise node i's
         * gradient has had its last read. */
        if (byol__relu_in_place(net, i)) {
            int32_t s = nd[i].src[0];
            l->grad[s] = l->grad[i];
            l->block_of[s] = l->block_of[i];
        } else {
            l->block_free[l->block_of[i]] = 1;
        }
    }
}

static void plan_regions(const byol_net *net, int64_t batch, layout *l)
{
    int64_t scratch = 0, max_c = 1;
    for (int32_t i = 0; i < net->nnodes; i++) {
        const byol__node *n = &net->nodes[i];
        const int32_t over = out_over(net, i);
        l->out[i] = over >= 0 ? l->out[over] : take(l, batch * byol__node_size(n));
        if (n->op == BYOL__OP_CONV) {
            byol__conv_geom g = byol__net_conv_geom(net, n, batch);
            l->wp[i] = take(l, (int64_t)byol__conv2d_packed_size(&g));
            if ((int64_t)byol__conv2d_scratch(&g) > scratch)
                scratch = (int64_t)byol__conv2d_scratch(&g);
        } else if (n->op == BYOL__OP_BN) {
            l->mean[i] = take(l, n->c);
            l->rstd[i] = take(l, n->c);
            if (n->c > max_c)
                max_c = n->c;
        } else if (n->op == BYOL__OP_MAXPOOL) {
            /* int32 winners take as many bytes as floats */
            l->argmax[i] = take(l, batch * byol__node_size(n));
        }
    }
    l->scratch = take(l, scratch);
    l->bn_sums = take(l, (4 * max_c + 1) * 2); /* doubles: 4 per channel + a count (run.c) */
    l->touched = take(l, (net->nnodes + 3) / 4);
}

static int layout_alloc(layout *l, int32_t n)
{
    memset(l, 0, sizeof *l);
    int64_t *v = byol__calloc((size_t)n * 8, sizeof *v);
    l->block_free = byol__calloc((size_t)n, 1);
    l->block_of = byol__calloc((size_t)n, sizeof *l->block_of);
    if (!v || !l->block_free || !l->block_of) {
        byol__free(v);
        byol__free(l->block_free);
        byol__free(l->block_of);
        return byol__err(BYOL_E_NOMEM, "byol_net_plan: out of memory");
    }
    l->out = v;
    l->grad = v + n;
    l->wp = v + 2 * n;
    l->mean = v + 3 * n;
    l->rstd = v + 4 * n;
    l->argmax = v + 5 * n;
    l->block_off = v + 6 * n;
    l->block_size = v + 7 * n;
    return BYOL_OK;
}

static void layout_free(layout *l)
{
    byol__free(l->out);
    byol__free(l->block_free);
    byol__free(l->block_of);
}

/* Points every node into the new arena. */
static void apply_layout(byol_net *net, const layout *l, float *a)
{
    for (int32_t i = 0; i < net->nnodes; i++) {
        byol__node *n = &net->nodes[i];
        n->out = a + l->out[i];
        n->grad = a + l->grad[i];
        n->wp = n->op == BYOL__OP_CONV ? a + l->wp[i] : NULL;
        n->mean = n->op == BYOL__OP_BN ? a + l->mean[i] : NULL;
        n->rstd = n->op == BYOL__OP_BN ? a + l->rstd[i] : NULL;
        n->argmax = n->op == BYOL__OP_MAXPOOL ? (int32_t *)(void *)(a + l->argmax[i]) : NULL;
    }
    net->in_slot = net->nodes[0].out;
    net->dy_slot = net->nodes[net->output].grad;
    net->scratch = a + l->scratch;
    net->bn_sums = (double *)(void *)(a + l->bn_sums);
    net->touched = (uint8_t *)(a + l->touched);
}

static int check_batch(const byol_net *net, int64_t max_batch, const char *fn)
{
    if (!net)
        return byol__err(BYOL_E_INVALID_ARG, "%s: net is NULL", fn);
    if (max_batch < 1 || max_batch > ((int64_t)1 << 24))
        return byol__err(BYOL_E_INVALID_ARG, "%s: max_batch %lld outside [1, 2^24]", fn,
                         (long long)max_batch);
    return BYOL_OK;
}

struct byol__plan {
    layout l;
    int64_t max_batch;
};

int byol__nn_plan_prepare(byol_net *net, int64_t max_batch, byol__plan **out, int64_t *floats)
{
    int rc = check_batch(net, max_batch, "byol_net_plan");
    byol__plan *p = rc == BYOL_OK ? byol__malloc(sizeof *p) : NULL;
    if (rc == BYOL_OK && !p)
        rc = byol__err(BYOL_E_NOMEM, "byol_net_plan: out of memory");
    if (rc == BYOL_OK)
        rc = layout_alloc(&p->l, net->nnodes);
    if (rc != BYOL_OK) {
        byol__free(p);
        return rc;
    }
    plan_regions(net, max_batch, &p->l);
    plan_gradients(net, max_batch, &p->l);
    p->max_batch = max_batch;
    *floats = p->l.total;
    *out = p;
    return BYOL_OK;
}

void byol__nn_plan_apply(byol_net *net, byol__plan *p, float *arena, int own)
{
    if (!net->arena_borrowed)
        byol__free(net->arena);
    net->arena = arena;
    net->arena_borrowed = !own;
    net->max_batch = p->max_batch;
    net->fwd_batch = 0;
    apply_layout(net, &p->l, arena);
    byol__nn_plan_discard(p);
}

void byol__nn_plan_discard(byol__plan *p)
{
    if (!p)
        return;
    layout_free(&p->l);
    byol__free(p);
}

int byol_net_plan(byol_net *net, int64_t max_batch)
{
    byol__plan *p;
    int64_t floats;
    int rc = byol__nn_plan_prepare(net, max_batch, &p, &floats);
    if (rc != BYOL_OK)
        return rc;
    size_t bytes;
    float *arena = NULL;
    if (byol__mul_size((size_t)floats, sizeof(float), &bytes) == 0)
        arena = byol__malloc(bytes);
    if (!arena) {
        byol__nn_plan_discard(p);
        return byol__err(BYOL_E_NOMEM, "byol_net_plan: cannot allocate %.1f MiB of activations "
                         "for batch %lld", (double)floats / 262144.0, (long long)max_batch);
    }
    byol__nn_plan_apply(net, p, arena, 1);
    return BYOL_OK;
}
