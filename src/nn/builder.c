/* byol_builder: assembles a graph of layers and finishes it into a net. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/internal.h"
#include "nn/graph.h"

void byol__net_opts_from(byol__net_opts *o, const byol_config *cfg)
{
    o->seed = (uint64_t)byol__cfg_int(cfg, BYOL__K_SEED);
    o->threads = (int32_t)byol__cfg_int(cfg, BYOL__K_THREADS);
    o->haiku_init = !strcmp(byol__cfg_str(cfg, BYOL__K_NET_INIT), "haiku");
    o->bn_unbiased = !strcmp(byol__cfg_str(cfg, BYOL__K_NET_BN_RUNNING_VAR), "unbiased");
    o->bn_eps = (float)byol__cfg_float(cfg, BYOL__K_NET_BN_EPS);
    o->bn_momentum = (float)byol__cfg_float(cfg, BYOL__K_NET_BN_MOMENTUM);
    /* Resolved once, so the packed weights planned and those used agree. */
    const char *algo = byol__cfg_str(cfg, BYOL__K_NN_CONV_ALGO);
    o->conv_winograd = !strcmp(algo, "winograd2") ? 2
                       : !strcmp(algo, "winograd") || (!strcmp(algo, "auto") && byol__cpu_avx512()) ? 4
                       : 0;
    /* bf16 runs in every convolution's and Linear layer's products where
     * the CPU has bf16 instructions (the forward of a convolution of at
     * most 32 taps x input channels, such as a 3x3 RGB stem, keeps its
     * direct fp32 kernel: conv_direct.c); else fp32. Each line is said
     * once per process, not per net. With bf16 operands F(4x4)'s transforms
     * put the error at 3-7 % of the largest output, F(2x2)'s at 0.5 %
     * (tests/unit/test_layers_conv.c), so bf16 takes F(2x2). */
    static atomic_int told_tiles, told_fp32;
    o->bf16 = 0;
    if (!strcmp(byol__cfg_str(cfg, BYOL__K_NN_PRECISION), "bf16")) {
        o->bf16 = byol__cpu_bf16();
        if (o->bf16 && o->conv_winograd == 4 && !atomic_exchange(&told_tiles, 1))
            byol__log(BYOL_LOG_INFO, "nn.precision=bf16 runs Winograd F(2x2,3x3) "
                      "(nn.conv_algo=winograd2): F(4x4)'s error in bf16 is 3-7 %%");
        if (o->bf16 && o->conv_winograd)
            o->conv_winograd = 2;
        if (!o->bf16 && !atomic_exchange(&told_fp32, 1))
            byol__log(BYOL_LOG_INFO, "nn.precision=bf16 computes in fp32 here: this CPU has "
                      "no AVX512_BF16 (or BYOL_CPU_DISABLE turns it off)");
    }
}

int byol__builder_init(byol_builder *b, const byol_config *cfg, int64_t c, int64_t h,
                       int64_t w)
{
    memset(b, 0, sizeof *b);
    if (c < 1 || h < 1 || w < 1)
        return byol__err(BYOL_E_SHAPE, "builder: input shape [%lld, %lld, %lld] must be positive",
                         (long long)c, (long long)h, (long long)w);
    byol__net_opts_from(&b->opts, cfg);
    b->cap = 16;
    b->nodes = byol__calloc((size_t)b->cap, sizeof *b->nodes);
    if (!b->nodes)
        return byol__err(BYOL_E_NOMEM, "builder: out of memory");
    byol__node *in = &b->nodes[0];
    in->op = BYOL__OP_INPUT;
    in->src[0] = in->src[1] = -1;
    in->rank = (h == 1 && w == 1) ? 2 : 4;
    in->c = c;
    in->h = h;
    in->w = w;
    b->nnodes = 1;
    return BYOL_OK;
}

void byol__builder_free(byol_builder *b)
{
    for (int32_t i = 0; i < b->nnodes; i++)
        byol__free(b->nodes[i].name);
    byol__free(b->nodes);
    memset(b, 0, sizeof *b);
}

int byol_builder_create(const byol_config *cfg, int64_t channels, int64_t height,
                        int64_t width, byol_builder **out)
{
    if (!out)
        return byol__err(BYOL_E_INVALID_ARG, "byol_builder_create: out is NULL");
    *out = NULL;
    byol_builder *b = byol__malloc(sizeof *b);
    if (!b)
        return byol__err(BYOL_E_NOMEM, "byol_builder_create: out of memory");
    int rc = byol__builder_init(b, cfg, channels, height, width);
    if (rc != BYOL_OK) {
        byol__free(b);
        return rc;
    }
    *out = b;
    return BYOL_OK;
}

void byol_builder_destroy(byol_builder *b)
{
    if (!b)
        return;
    byol__builder_free(b);
    byol__free(b);
}

/* ---- adding nodes ------------------------------------------------------- */

static int check_src(const byol_builder *b, int32_t src, const char *what, int want_rank)
{
    if (!b)
        return byol__err(BYOL_E_INVALID_ARG, "%s: builder is NULL", what);
    if (src < 0 || src >= b->nnodes)
        return byol__err(BYOL_E_INVALID_ARG, "%s: source node %d does not exist (have %d)",
                         what, (int)src, (int)b->nnodes);
    const byol__node *s = &b->nodes[src];
    if (want_rank && s->rank != want_rank)
        return byol__err(BYOL_E_SHAPE, "%s: node %d is a %s, this layer needs a %s", what,
                         (int)src, s->rank == 4 ? "map [C,H,W]" : "vector [C]",
                         want_rank == 4 ? "map [C,H,W]" : "vector [C]");
    return BYOL_OK;
}

/* Validates a layer name (NULL: named by node id) and returns a copy. */
static int take_name(const byol_builder *b, const char *name, const char *what, char **out)
{
    char buf[32];
    if (!name) {
        snprintf(buf, sizeof buf, "%d", (int)b->nnodes);
        name = buf;
    }
    if (!*name || strlen(name) > 200)
        return byol__err(BYOL_E_INVALID_ARG, "%s: layer name must have 1 to 200 characters", what);
    for (int32_t i = 0; i < b->nnodes; i++)
        if (b->nodes[i].name && !strcmp(b->nodes[i].name, name))
            return byol__err(BYOL_E_INVALID_ARG, "%s: layer name '%s' is used twice", what, name);
    *out = byol__strdup(name);
    if (!*out)
        return byol__err(BYOL_E_NOMEM, "%s: out of memory", what);
    return BYOL_OK;
}

/* Appends node n (its name already owned by n) and returns its id. */
static int push(byol_builder *b, byol__node *n, int32_t *out)
{
    if (b->nnodes == b->cap) {
        byol__node *grown = byol__calloc((size_t)b->cap * 2, sizeof *grown);
        if (!grown) {
            byol__free(n->name);
            return byol__err(BYOL_E_NOMEM, "builder: out of memory");
        }
        memcpy(grown, b->nodes, (size_t)b->nnodes * sizeof *grown);
        byol__free(b->nodes);
        b->nodes = grown;
        b->cap *= 2;
    }
    n->w_off = n->b_off = n->mean_off = n->var_off = -1;
    b->nodes[b->nnodes] = *n;
    if (out)
        *out = b->nnodes;
    b->nnodes++;
    return BYOL_OK;
}

static byol__node like(const byol__node *src, byol__op op, int32_t s)
{
    byol__node n;
    memset(&n, 0, sizeof n);
    n.op = op;
    n.src[0] = s;
    n.src[1] = -1;
    n.rank = src->rank;
    n.c = src->c;
    n.h = src->h;
    n.w = src->w;
    return n;
}

int byol_builder_conv2d(byol_builder *b, const char *name, int32_t src, int64_t out_channels,
                        int32_t kernel, int32_t stride, int32_t padding, int32_t bias,
                        int32_t *out)
{
    int rc = check_src(b, src, "conv2d", 4);
    if (rc != BYOL_OK)
        return rc;
    if (out_channels < 1 || kernel < 1 || stride < 1 || padding < 0 || padding >= kernel * 4)
        return byol__err(BYOL_E_INVALID_ARG,
                         "conv2d '%s': bad geometry (out_channels %lld, kernel %d, stride %d, padding %d)",
                         name ? name : "?", (long long)out_channels, (int)kernel, (int)stride,
                         (int)padding);
    const byol__node *s = &b->nodes[src];
    byol__conv_geom g = { .n = 1, .h = s->h, .w = s->w, .cin = s->c, .cout = out_channels,
                          .kh = kernel, .kw = kernel, .stride = stride, .pad = padding };
    if (byol__conv_geom_init(&g) != 0)
        return byol__err(BYOL_E_SHAPE, "conv2d '%s': input %lldx%lld is too small for kernel %d",
                         name ? name : "?", (long long)s->h, (long long)s->w, (int)kernel);
    byol__node n = like(s, BYOL__OP_CONV, src);
    n.c = out_channels;
    n.h = g.oh;
    n.w = g.ow;
    n.k = kernel;
    n.stride = stride;
    n.pad = padding;
    n.has_bias = bias != 0;
    rc = take_name(b, name, "conv2d", &n.name);
    return rc == BYOL_OK ? push(b, &n, out) : rc;
}

int byol_builder_batchnorm(byol_builder *b, const char *name, int32_t src, int32_t *out)
{
    int rc = check_src(b, src, "batchnorm", 0);
    if (rc != BYOL_OK)
        return rc;
    byol__node n = like(&b->nodes[src], BYOL__OP_BN, src);
    rc = take_name(b, name, "batchnorm", &n.name);
    return rc == BYOL_OK ? push(b, &n, out) : rc;
}

int byol_builder_relu(byol_builder *b, int32_t src, int32_t *out)
{
    int rc = check_src(b, src, "relu", 0);
    if (rc != BYOL_OK)
        return rc;
    byol__node n = like(&b->nodes[src], BYOL__OP_RELU, src);
    return push(b, &n, out);
}

int byol_builder_maxpool(byol_builder *b, int32_t src, int32_t kernel, int32_t stride,
                         int32_t padding, int32_t *out)
{
    int rc = check_src(b, src, "maxpool", 4);
    if (rc != BYOL_OK)
        return rc;
    /* PyTorch's rule: padding at most half the window, so no window is all padding. */
    if (kernel < 1 || stride < 1 || padding < 0 || 2 * padding > kernel)
        return byol__err(BYOL_E_INVALID_ARG, "maxpool: bad geometry (kernel %d, stride %d, padding %d)",
                         (int)kernel, (int)stride, (int)padding);
    const byol__node *s = &b->nodes[src];
    byol__pool_geom g = { .n = 1, .h = s->h, .w = s->w, .c = s->c, .k = kernel,
                          .stride = stride, .pad = padding };
    if (byol__pool_geom_init(&g) != 0)
        return byol__err(BYOL_E_SHAPE, "maxpool: input %lldx%lld is too small for kernel %d",
                         (long long)s->h, (long long)s->w, (int)kernel);
    byol__node n = like(s, BYOL__OP_MAXPOOL, src);
    n.h = g.oh;
    n.w = g.ow;
    n.k = kernel;
    n.stride = stride;
    n.pad = padding;
    return push(b, &n, out);
}

int byol_builder_avgpool(byol_builder *b, int32_t src, int32_t *out)
{
    int rc = check_src(b, src, "avgpool", 4);
    if (rc != BYOL_OK)
        return rc;
    byol__node n = like(&b->nodes[src], BYOL__OP_AVGPOOL, src);
    n.rank = 2;
    n.h = n.w = 1;
    return push(b, &n, out);
}

int byol_builder_flatten(byol_builder *b, int32_t src, int32_t *out)
{
    int rc = check_src(b, src, "flatten", 4);
    if (rc != BYOL_OK)
        return rc;
    const byol__node *s = &b->nodes[src];
    byol__node n = like(s, BYOL__OP_FLATTEN, src);
    n.rank = 2;
    n.c = s->c * s->h * s->w;
    n.h = n.w = 1;
    return push(b, &n, out);
}

int byol_builder_linear(byol_builder *b, const char *name, int32_t src, int64_t out_features,
                        int32_t bias, int32_t *out)
{
    int rc = check_src(b, src, "linear", 2);
    if (rc != BYOL_OK)
        return rc;
    if (out_features < 1)
        return byol__err(BYOL_E_INVALID_ARG, "linear '%s': out_features %lld must be positive",
                         name ? name : "?", (long long)out_features);
    byol__node n = like(&b->nodes[src], BYOL__OP_LINEAR, src);
    n.c = out_features;
    n.has_bias = bias != 0;
    rc = take_name(b, name, "linear", &n.name);
    return rc == BYOL_OK ? push(b, &n, out) : rc;
}

int byol_builder_add(byol_builder *b, int32_t src_a, int32_t src_b, int32_t *out)
{
    int rc = check_src(b, src_a, "add", 0);
    if (rc == BYOL_OK)
        rc = check_src(b, src_b, "add", 0);
    if (rc != BYOL_OK)
        return rc;
    const byol__node *a = &b->nodes[src_a], *c = &b->nodes[src_b];
    if (a->rank != c->rank || a->c != c->c || a->h != c->h || a->w != c->w)
        return byol__err(BYOL_E_SHAPE, "add: node %d is [%lld,%lld,%lld] but node %d is [%lld,%lld,%lld]",
                         (int)src_a, (long long)a->c, (long long)a->h, (long long)a->w,
                         (int)src_b, (long long)c->c, (long long)c->h, (long long)c->w);
    byol__node n = like(a, BYOL__OP_ADD, src_a);
    n.src[1] = src_b;
    return push(b, &n, out);
}
