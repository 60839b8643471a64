/* Preset architectures, built with the same builder users have:
 * torchvision's ResNets (names included), their CIFAR variants, cnn-small
 * and MLP heads named like a torch.nn.Sequential. */
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/internal.h"
#include "nn/graph.h"

typedef struct ctx {
    byol_builder *b;
    int32_t *zero;
    int32_t *nzero;
} ctx;

static int64_t scaled(int64_t c, double width)
{
    int64_t v = (int64_t)((double)c * width);
    return v < 1 ? 1 : v;
}

/* conv -> bn [-> relu], torchvision-named "<prefix>conv<k>" / "<prefix>bn<k>". */
static int conv_bn(ctx *x, int32_t src, const char *prefix, int k, int64_t out, int32_t kernel,
                   int32_t stride, int relu, int32_t *o)
{
    char cn[256], bn[256];
    snprintf(cn, sizeof cn, "%sconv%d", prefix, k);
    snprintf(bn, sizeof bn, "%sbn%d", prefix, k);
    int rc = byol_builder_conv2d(x->b, cn, src, out, kernel, stride, kernel / 2, 0, o);
    if (rc == BYOL_OK)
        rc = byol_builder_batchnorm(x->b, bn, *o, o);
    if (rc == BYOL_OK && relu)
        rc = byol_builder_relu(x->b, *o, o);
    return rc;
}

/* One residual block (basic: two 3x3; bottleneck: 1x1, 3x3, 1x1 x4). */
static int block(ctx *x, int32_t src, const char *prefix, int64_t planes, int32_t stride,
                 int bottleneck, int32_t *o)
{
    int64_t in_c = x->b->nodes[src].c; /* read now: adding nodes may move the array */
    int64_t out_c = bottleneck ? planes * 4 : planes;
    int32_t y, sc = src;
    int rc;
    if (bottleneck) {
        rc = conv_bn(x, src, prefix, 1, planes, 1, 1, 1, &y);
        if (rc == BYOL_OK)
            rc = conv_bn(x, y, prefix, 2, planes, 3, stride, 1, &y);
        if (rc == BYOL_OK)
            rc = conv_bn(x, y, prefix, 3, out_c, 1, 1, 0, &y);
    } else {
        rc = conv_bn(x, src, prefix, 1, planes, 3, stride, 1, &y);
        if (rc == BYOL_OK)
            rc = conv_bn(x, y, prefix, 2, planes, 3, 1, 0, &y);
    }
    if (rc == BYOL_OK && *x->nzero < BYOL__MAX_ZERO_GAMMA)
        x->zero[(*x->nzero)++] = y; /* the block's last BN */
    if (rc == BYOL_OK && (stride != 1 || in_c != out_c)) {
        char cn[256], bn[256];
        snprintf(cn, sizeof cn, "%sdownsample.0", prefix);
        snprintf(bn, sizeof bn, "%sdownsample.1", prefix);
        rc = byol_builder_conv2d(x->b, cn, src, out_c, 1, stride, 0, 0, &sc);
        if (rc == BYOL_OK)
            rc = byol_builder_batchnorm(x->b, bn, sc, &sc);
    }
    if (rc == BYOL_OK)
        rc = byol_builder_add(x->b, y, sc, &y);
    if (rc == BYOL_OK)
        rc = byol_builder_relu(x->b, y, o);
    return rc;
}

static int resnet(ctx *x, const byol_config *cfg, const int *blocks, int bottleneck, int cifar,
                  int32_t *o)
{
    double width = byol__cfg_float(cfg, BYOL__K_NET_WIDTH);
    int32_t y;
    int rc = cifar ? conv_bn(x, 0, "", 1, scaled(64, width), 3, 1, 1, &y)
                   : conv_bn(x, 0, "", 1, scaled(64, width), 7, 2, 1, &y);
    if (rc == BYOL_OK && !cifar)
        rc = byol_builder_maxpool(x->b, y, 3, 2, 1, &y);
    for (int l = 0; rc == BYOL_OK && l < 4; l++)
        for (int k = 0; rc == BYOL_OK && k < blocks[l]; k++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "layer%d.%d.", l + 1, k);
            rc = block(x, y, prefix, scaled(64 << l, width), (k == 0 && l > 0) ? 2 : 1,
                       bottleneck, &y);
        }
    if (rc == BYOL_OK)
        rc = byol_builder_avgpool(x->b, y, o);
    return rc;
}

static int cnn_small(ctx *x, const byol_config *cfg, int32_t *o)
{
    double width = byol__cfg_float(cfg, BYOL__K_NET_WIDTH);
    int32_t y;
    int rc = conv_bn(x, 0, "", 1, scaled(32, width), 3, 1, 1, &y);
    if (rc == BYOL_OK)
        rc = byol_builder_maxpool(x->b, y, 2, 2, 0, &y);
    if (rc == BYOL_OK)
        rc = conv_bn(x, y, "", 2, scaled(64, width), 3, 1, 1, &y);
    if (rc == BYOL_OK)
        rc = byol_builder_maxpool(x->b, y, 2, 2, 0, &y);
    if (rc == BYOL_OK)
        rc = conv_bn(x, y, "", 3, scaled(128, width), 3, 1, 1, &y);
    if (rc == BYOL_OK)
        rc = byol_builder_avgpool(x->b, y, o);
    return rc;
}

/* Appends the MLP of spec to b after node *o (node 0 for a fresh builder),
 * named by position as in nn.Sequential; *o becomes its output. */
static int mlp_build(byol_builder *b, const byol__mlp_spec *spec, int32_t *o)
{
    const byol__mlp_bias bias = spec->bias;
    int32_t y = *o, pos = 0;
    int rc = BYOL_OK;
    for (int32_t l = 0; rc == BYOL_OK && l < spec->layers; l++) {
        int last = l == spec->layers - 1;
        int has_bias = bias == BYOL__MLP_BIAS_ALL || (bias == BYOL__MLP_BIAS_HIDDEN && !last) ||
                       (bias == BYOL__MLP_BIAS_LAST && last);
        char name[32];
        snprintf(name, sizeof name, "%d", (int)pos++);
        rc = byol_builder_linear(b, name, y, last ? spec->out : spec->hidden, has_bias, &y);
        if (rc == BYOL_OK && !last && spec->batchnorm) {
            snprintf(name, sizeof name, "%d", (int)pos++);
            rc = byol_builder_batchnorm(b, name, y, &y);
        }
        if (rc == BYOL_OK && !last) {
            rc = byol_builder_relu(b, y, &y);
            pos++;
        }
    }
    *o = y;
    return rc;
}

/* The mlp preset: its net.mlp.* settings. */
static byol__mlp_spec mlp_spec(const byol_config *cfg)
{
    static const char *const bias[] = { "hidden", "all", "none", "last" };
    byol__mlp_spec s = { byol__cfg_int(cfg, BYOL__K_NET_MLP_IN), byol__cfg_int(cfg, BYOL__K_NET_MLP_HIDDEN),
                         byol__cfg_int(cfg, BYOL__K_NET_MLP_OUT),
                         (int32_t)byol__cfg_int(cfg, BYOL__K_NET_MLP_LAYERS),
                         (int32_t)byol__cfg_int(cfg, BYOL__K_NET_MLP_BATCHNORM), BYOL__MLP_BIAS_HIDDEN };
    for (int k = 0; k < 4; k++)
        if (!strcmp(byol__cfg_str(cfg, BYOL__K_NET_MLP_BIAS), bias[k]))
            s.bias = (byol__mlp_bias)k;
    return s;
}

int byol__nn_mlp_create(const byol_config *cfg, const byol__mlp_spec *spec, uint64_t seed,
                        byol_net **out)
{
    byol_builder b;
    int32_t output = 0;
    int rc = byol__builder_init(&b, cfg, spec->in, 1, 1);
    if (rc != BYOL_OK)
        return rc;
    b.opts.seed = seed;
    rc = mlp_build(&b, spec, &output);
    if (rc == BYOL_OK)
        rc = byol__builder_finish(&b, output, NULL, 0, out);
    byol__builder_free(&b);
    return rc;
}

int byol__preset_build(const byol_config *cfg, byol_builder *b, int32_t *output,
                       int32_t zero_gamma[BYOL__MAX_ZERO_GAMMA], int32_t *n_zero_gamma)
{
    static const int r18[4] = { 2, 2, 2, 2 }, r34[4] = { 3, 4, 6, 3 };
    const char *arch = byol__cfg_str(cfg, BYOL__K_NET_ARCH);
    int is_cnn = !strcmp(arch, "cnn-small"), is_mlp = !strcmp(arch, "mlp");
    int cifar = strstr(arch, "-cifar") != NULL;
    int64_t in_c = byol__cfg_int(cfg, BYOL__K_NET_IN_CHANNELS);
    int64_t size = byol__cfg_int(cfg, BYOL__K_NET_IMAGE_SIZE);
    if (!in_c)
        in_c = is_cnn ? 1 : 3;
    if (!size)
        size = is_cnn ? 28 : cifar ? 32 : 224;
    byol__mlp_spec spec = mlp_spec(cfg);
    int rc = is_mlp ? byol__builder_init(b, cfg, spec.in, 1, 1)
                    : byol__builder_init(b, cfg, in_c, size, size);
    if (rc != BYOL_OK)
        return rc;
    ctx x = { b, zero_gamma, n_zero_gamma };
    *n_zero_gamma = 0;
    *output = 0;
    if (is_mlp)
        rc = mlp_build(b, &spec, output);
    else if (is_cnn)
        rc = cnn_small(&x, cfg, output);
    else if (!strncmp(arch, "resnet18", 8))
        rc = resnet(&x, cfg, r18, 0, cifar, output);
    else if (!strcmp(arch, "resnet34"))
        rc = resnet(&x, cfg, r34, 0, 0, output);
    else
        rc = resnet(&x, cfg, r34, 1, cifar, output); /* resnet50: (3,4,6,3) bottlenecks */
    int64_t classes = byol__cfg_int(cfg, BYOL__K_NET_NUM_CLASSES);
    if (rc == BYOL_OK && classes > 0 && !is_mlp)
        rc = byol_builder_linear(b, "fc", *output, classes, 1, output);
    if (!byol__cfg_int(cfg, BYOL__K_NET_ZERO_INIT_RESIDUAL))
        *n_zero_gamma = 0;
    if (rc != BYOL_OK) {
        byol__builder_free(b);
        if (rc == BYOL_E_SHAPE) {
            char why[512];
            snprintf(why, sizeof why, "%s", byol_last_error());
            rc = byol__err(rc, "net '%s': image size %lld is too small (%s)", arch,
                           (long long)size, why);
        }
    }
    return rc;
}

int byol_net_create(const byol_config *cfg, byol_net **out)
{
    if (!out)
        return byol__err(BYOL_E_INVALID_ARG, "byol_net_create: out is NULL");
    *out = NULL;
    byol_builder b;
    int32_t output, zero[BYOL__MAX_ZERO_GAMMA], nzero = 0;
    int rc = byol__preset_build(cfg, &b, &output, zero, &nzero);
    if (rc != BYOL_OK)
        return rc;
    rc = byol__builder_finish(&b, output, zero, nzero, out);
    byol__builder_free(&b);
    return rc;
}
