/* Loader throughput for `make bench`: images per second that byol_loader
 * delivers (decode + two augmented views, or the evaluation transform),
 * with the settings of a config preset. Public API only.
 *
 *   bench_loader <case> <workers> <min_seconds> <dataset path>
 * prints one JSON line: {"case":..., "img_s":..., "threads": <workers>, ...}
 *
 * Cases: loader_cifar10 (the cifar10 preset, batch 256), loader_imagenet
 * (the imagenet preset, 224x224 views, batch 8: the
 * photos folder holds 10 files, and the paper's 4096 would hold gigabytes
 * of views). Bad files are skipped and counted. Two batches
 * are untimed warm-up; then batches are taken until min_seconds have passed
 * (at least 3). The consumer does nothing with a batch, so this is the rate
 * at which a trainer could be fed. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <byol/byol.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "bench_loader: %s: %s: %s\n", what, byol_strerror(rc), byol_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_loader loader_cifar10|loader_imagenet workers "
                        "min_seconds dataset_path\n");
        return 2;
    }
    const char *name = argv[1], *path = argv[4];
    int workers = atoi(argv[2]);
    double min_seconds = atof(argv[3]);
    int cifar = !strcmp(name, "loader_cifar10");
    if (!cifar && strcmp(name, "loader_imagenet")) {
        fprintf(stderr, "bench_loader: unknown case '%s'\n", name);
        return 2;
    }
    char settings[256];
    snprintf(settings, sizeof settings, "loader.workers=%d loader.on_error=skip "
             "train.batch_size=%d", workers, cifar ? 256 : 8);
    byol_config *cfg = NULL;
    byol_dataset *ds = NULL;
    byol_loader *ld = NULL;
    int rc = byol_config_create(&cfg);
    if (rc == BYOL_OK)
        rc = byol_config_apply_preset(cfg, cifar ? "cifar10" : "imagenet");
    if (rc == BYOL_OK)
        rc = byol_config_parse(cfg, settings);
    if (rc != BYOL_OK)
        return fail("config", rc);
    if ((rc = byol_dataset_open(cfg, path, &ds)) != BYOL_OK)
        return fail(path, rc);
    if ((rc = byol_loader_create(cfg, ds, BYOL_LOADER_TRAIN, &ld)) != BYOL_OK)
        return fail("byol_loader_create", rc);
    byol_batch b = { .struct_size = sizeof b };
    int64_t images = 0, batches = 0;
    double t0 = 0;
    for (int64_t k = 0; rc == BYOL_OK; k++) {
        if (k == 2)
            t0 = now();
        rc = byol_loader_next(ld, &b);
        if (k >= 2) {
            images += b.count;
            batches++;
        }
        if (k >= 2 && batches >= 3 && now() - t0 >= min_seconds)
            break;
    }
    if (rc != BYOL_OK)
        return fail("byol_loader_next", rc);
    double secs = now() - t0;
    printf("{\"case\": \"%s_w%d\", \"img_s\": %.2f, \"threads\": %d, \"batch\": %lld, "
           "\"batches\": %lld, \"seconds\": %.3f, \"images_in_dataset\": %lld, "
           "\"skipped\": %lld, \"libbyol\": \"%s\"}\n",
           name, workers, (double)images / secs, workers, (long long)b.view1.shape[0],
           (long long)batches, secs, (long long)byol_dataset_size(ds),
           (long long)byol_loader_skipped(ld), byol_version_string());
    byol_loader_destroy(ld);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
    return 0;
}
