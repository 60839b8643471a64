/* net_tool: the C side of tests/ref/roundtrip_torchvision.py.
 *   net_tool save <arch> <out.safetensors> [key=value ...]
 *   net_tool forward <weights.safetensors> <arch> <input.safetensors> <out.safetensors> [key=value ...]
 * "forward" runs an evaluation-mode forward of tensor "input" (NCHW F32) and
 * writes tensor "output". Uses the internal safetensors reader/writer to
 * move test tensors; the network itself goes through the public API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byol/byol.h"
#include "io/safetensors.h"

static int fail(int rc)
{
    fprintf(stderr, "net_tool: %s: %s\n", byol_strerror(rc), byol_last_error());
    return 1;
}

static int make_net(const char *arch, int argc, char **argv, byol_net **net)
{
    byol_config *cfg;
    int rc = byol_config_create(&cfg);
    if (rc == BYOL_OK)
        rc = byol_config_set_string(cfg, "net.arch", arch);
    for (int i = 0; rc == BYOL_OK && i < argc; i++)
        rc = byol_config_parse(cfg, argv[i]);
    if (rc == BYOL_OK)
        rc = byol_net_create(cfg, net);
    byol_config_destroy(cfg);
    return rc;
}

static int forward(const char *weights, const char *arch, const char *in_path,
                   const char *out_path, int argc, char **argv)
{
    byol_net *net = NULL;
    byol__st_file *in = NULL;
    float *x = NULL, *y = NULL;
    int rc = make_net(arch, argc, argv, &net);
    if (rc == BYOL_OK)
        rc = byol_net_load(net, weights, BYOL_LOAD_STRICT);
    if (rc == BYOL_OK)
        rc = byol__st_open(in_path, &in);
    const byol__st_tensor *t = rc == BYOL_OK ? byol__st_find(in, "input") : NULL;
    if (rc == BYOL_OK && (!t || t->dtype != BYOL__ST_F32 || t->ndim != 4)) {
        fprintf(stderr, "net_tool: %s has no 4-D F32 tensor 'input'\n", in_path);
        rc = BYOL_E_FORMAT;
    }
    int32_t ndim;
    int64_t dims[3], n = t ? t->shape[0] : 0;
    if (rc == BYOL_OK)
        rc = byol_net_output_dims(net, &ndim, dims);
    int64_t d = dims[0] * dims[1] * dims[2];
    if (rc == BYOL_OK)
        rc = byol_net_plan(net, n);
    if (rc == BYOL_OK) {
        x = malloc(t->nbytes);
        y = malloc((size_t)(n * d) * sizeof *y);
        memcpy(x, t->data, t->nbytes);
        byol_tensor tx = { sizeof tx, 4, { n, t->shape[1], t->shape[2], t->shape[3] }, x };
        byol_tensor ty = { sizeof ty, 2, { n, d, 0, 0 }, y };
        rc = byol_net_embed(net, &tx, &ty);
    }
    if (rc == BYOL_OK) {
        byol__st_tensor o = { "output", BYOL__ST_F32, 2, { n, d }, y, (size_t)(n * d) * sizeof *y };
        rc = byol__st_write(out_path, &o, 1, NULL, 0);
    }
    free(x);
    free(y);
    byol__st_close(in);
    byol_net_destroy(net);
    return rc;
}

int main(int argc, char **argv)
{
    int rc;
    if (argc >= 4 && !strcmp(argv[1], "save")) {
        byol_net *net = NULL;
        rc = make_net(argv[2], argc - 4, argv + 4, &net);
        if (rc == BYOL_OK)
            rc = byol_net_save(net, argv[3]);
        byol_net_destroy(net);
    } else if (argc >= 6 && !strcmp(argv[1], "forward")) {
        rc = forward(argv[2], argv[3], argv[4], argv[5], argc - 6, argv + 6);
    } else {
        fprintf(stderr, "usage: net_tool save <arch> <out> [k=v ...]\n"
                        "       net_tool forward <weights> <arch> <input> <out> [k=v ...]\n");
        return 2;
    }
    return rc == BYOL_OK ? 0 : fail(rc);
}
