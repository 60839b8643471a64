/* libbyol side of `make bench`: forward+backward throughput of a network in
 * training mode, measured the way bench/torch_peer.py measures PyTorch, so
 * bench/compare.py can print the two side by side. Public API only.
 *
 *   bench_net <case> [threads] [min_seconds]
 * prints one JSON line: {"case":..., "img_s":..., "peak_mb":..., "threads":...}
 *
 * Memory: after building the net, planning the arena and filling the data,
 * the peak-RSS mark is reset (/proc/self/clear_refs) and the baseline RSS
 * read; peak_mb is VmHWM minus that baseline after the timed loop. The
 * arena is allocated before the baseline but first touched inside the loop,
 * so its pages count, as PyTorch's activations do in the peer. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <byol/byol.h>

typedef struct bench_case {
    const char *name, *settings;
    int64_t batch;
} bench_case;

static const bench_case cases[] = {
    { "fwdbwd_resnet18_cifar_b64", "net.arch=resnet18-cifar", 64 },
    { "fwdbwd_cnn_small_b256", "net.arch=cnn-small", 256 },
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

static int reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return 0;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

static int run(const bench_case *c, int threads, double min_seconds)
{
    byol_config *cfg = NULL;
    byol_net *net = NULL;
    int rc = byol_config_create(&cfg);
    if (rc == BYOL_OK)
        rc = byol_config_parse(cfg, c->settings);
    if (rc == BYOL_OK)
        rc = byol_config_set_int(cfg, "threads", threads);
    if (rc == BYOL_OK)
        rc = byol_net_create(cfg, &net);
    if (rc == BYOL_OK)
        rc = byol_net_plan(net, c->batch);
    int64_t in[3], out[3];
    int32_t ndim;
    if (rc == BYOL_OK)
        rc = byol_net_input_dims(net, in);
    if (rc == BYOL_OK)
        rc = byol_net_output_dims(net, &ndim, out);
    if (rc != BYOL_OK) {
        fprintf(stderr, "bench_net: %s: %s\n", byol_strerror(rc), byol_last_error());
        return 1;
    }
    int64_t nx = c->batch * in[0] * in[1] * in[2], ny = c->batch * out[0];
    float *x = malloc((size_t)nx * sizeof *x), *y = malloc((size_t)ny * sizeof *y);
    float *dy = malloc((size_t)ny * sizeof *dy);
    for (int64_t i = 0; i < nx; i++)
        x[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
    for (int64_t i = 0; i < ny; i++)
        dy[i] = (float)((i * 104729) % 1000) / 500.0f - 1.0f;
    byol_tensor tx = { sizeof tx, 4, { c->batch, in[0], in[1], in[2] }, x };
    byol_tensor ty = { sizeof ty, 2, { c->batch, out[0], 0, 0 }, y };
    byol_tensor tdy = { sizeof tdy, 2, { c->batch, out[0], 0, 0 }, dy };
    int reset = reset_peak();
    long base = status_kib("VmRSS");
    int iters = 0;
    double t0 = 0, elapsed = 0;
    for (int i = 0; rc == BYOL_OK && (i < 3 + 3 || elapsed < min_seconds); i++) {
        if (i == 3)
            t0 = now(); /* after 3 untimed warmup iterations */
        rc = byol_net_zero_grad(net);
        if (rc == BYOL_OK)
            rc = byol_net_forward(net, &tx, &ty);
        if (rc == BYOL_OK)
            rc = byol_net_backward(net, &tdy, NULL);
        if (i >= 3) {
            iters++;
            elapsed = now() - t0;
        }
    }
    long peak = status_kib("VmHWM");
    if (rc != BYOL_OK)
        fprintf(stderr, "bench_net: %s: %s\n", byol_strerror(rc), byol_last_error());
    else
        printf("{\"case\": \"%s\", \"img_s\": %.2f, \"peak_mb\": %.1f, \"threads\": %d, "
               "\"iters\": %d, \"seconds\": %.3f, \"mem_method\": \"%s\", \"libbyol\": \"%s\"}\n",
               c->name, (double)c->batch * iters / elapsed, (double)(peak - base) / 1024.0,
               threads, iters, elapsed, reset ? "vmhwm_reset" : "vmhwm_total",
               byol_version_string());
    free(x);
    free(y);
    free(dy);
    byol_net_destroy(net);
    byol_config_destroy(cfg);
    return rc != BYOL_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_net <case> [threads] [min_seconds]\n");
        return 2;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    double min_seconds = argc > 3 ? atof(argv[3]) : 5.0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!strcmp(cases[i].name, argv[1]))
            return run(&cases[i], threads, min_seconds);
    fprintf(stderr, "bench_net: unknown case '%s'\n", argv[1]);
    return 2;
}
