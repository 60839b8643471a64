/* A tour of the network API, run by `make demo` until the BYOL trainer
 * lands: builds a preset encoder, trains nothing yet but runs timed
 * forward/backward passes, saves the weights as safetensors, loads them into
 * a fresh net and checks both compute the same embedding.
 *
 *   net_tour [out_dir] [arch]     (defaults: out/demo, resnet18-cifar)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <byol/byol.h>

#define CHECK(call)                                                            \
    do {                                                                       \
        int rc_ = (call);                                                      \
        if (rc_ != BYOL_OK) {                                                  \
            fprintf(stderr, "net_tour: %s failed: %s: %s\n", #call,            \
                    byol_strerror(rc_), byol_last_error());                    \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static byol_net *create(const char *arch, uint64_t seed)
{
    byol_config *cfg;
    byol_net *net;
    CHECK(byol_config_create(&cfg));
    CHECK(byol_config_set_string(cfg, "net.arch", arch));
    CHECK(byol_config_set_int(cfg, "seed", (int64_t)seed));
    CHECK(byol_config_set_int(cfg, "threads", 2));
    CHECK(byol_net_create(cfg, &net));
    byol_config_destroy(cfg);
    return net;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "out/demo";
    const char *arch = argc > 2 ? argv[2] : "resnet18-cifar";
    const int64_t batch = 32;
    char path[1024];
    mkdir("out", 0755);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/encoder.safetensors", dir);

    printf("libbyol %s (header %s)\n", byol_version_string(), BYOL_VERSION_STRING);
    byol_net *net = create(arch, 1);
    int64_t in[3], out[3], nparams;
    int32_t ndim;
    CHECK(byol_net_input_dims(net, in));
    CHECK(byol_net_output_dims(net, &ndim, out));
    byol_net_buffer(net, BYOL_BUFFER_PARAMS, &nparams);
    printf("%s: input %lldx%lldx%lld, output %lld features, %lld parameters in %lld tensors\n",
           arch, (long long)in[0], (long long)in[1], (long long)in[2], (long long)out[0],
           (long long)nparams, (long long)byol_net_tensor_count(net));

    int64_t nx = batch * in[0] * in[1] * in[2], ny = batch * out[0];
    float *x = malloc((size_t)nx * sizeof *x), *y = malloc((size_t)ny * sizeof *y);
    float *y2 = malloc((size_t)ny * sizeof *y2);
    srand(7);
    for (int64_t i = 0; i < nx; i++)
        x[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    byol_tensor tx = { sizeof tx, 4, { batch, in[0], in[1], in[2] }, x };
    byol_tensor ty = { sizeof ty, 2, { batch, out[0], 0, 0 }, y };
    byol_tensor ty2 = { sizeof ty2, 2, { batch, out[0], 0, 0 }, y2 };

    CHECK(byol_net_plan(net, batch));
    double t0 = seconds();
    const int steps = 5;
    for (int s = 0; s < steps; s++) {
        CHECK(byol_net_zero_grad(net));
        CHECK(byol_net_forward(net, &tx, &ty));
        CHECK(byol_net_backward(net, &ty, NULL)); /* d(0.5*|y|^2)/dy = y */
    }
    double dt = seconds() - t0;
    printf("%d forward+backward passes at batch %lld: %.2f s, %.1f img/s (2 threads)\n", steps,
           (long long)batch, dt, (double)(steps * batch) / dt);

    CHECK(byol_net_save(net, path));
    byol_net *copy = create(arch, 2);
    CHECK(byol_net_load(copy, path, BYOL_LOAD_STRICT));
    CHECK(byol_net_plan(copy, batch));
    CHECK(byol_net_embed(net, &tx, &ty));
    CHECK(byol_net_embed(copy, &tx, &ty2));
    int same = memcmp(y, y2, (size_t)ny * sizeof *y) == 0;
    printf("saved %s; a fresh net loaded from it gives %s embeddings\n", path,
           same ? "bit-identical" : "DIFFERENT");
    free(x);
    free(y);
    free(y2);
    byol_net_destroy(net);
    byol_net_destroy(copy);
    return same ? 0 : 1;
}
