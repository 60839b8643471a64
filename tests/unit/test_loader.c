/* byol_loader: the same bytes for any worker count and batch size,
 * per-epoch orders, the evaluation pass, seeking, bad files (stop and
 * skip), shutdown, and sharding across ranks (the ranks' slices put
 * together are the unsharded batch). (The preview grid: test_preview.c.) */
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

enum { N = 40, H = 12, W = 10, C = 3, S = 8, SF = C * S * S };

static uint8_t pixels[N * H * W * C];
static int32_t labels[N];

static byol_config *make_cfg(const char *extra)
{
    byol_config *cfg;
    assert_byol_ok(byol_config_create(&cfg));
    assert_byol_ok(byol_config_apply_preset(cfg, "cifar10"));
    assert_byol_ok(byol_config_parse(cfg, "augment.size=8 seed=11 augment.view1.blur_p=0.5 "
                                          "train.batch_size=4 loader.prefetch=3"));
    if (extra)
        assert_byol_ok(byol_config_parse(cfg, extra));
    return cfg;
}

static byol_dataset *make_dataset(void)
{
    for (size_t i = 0; i < sizeof pixels; i++)
        pixels[i] = (uint8_t)((i * 2654435761u) >> 13);
    for (int i = 0; i < N; i++)
        labels[i] = i % 5;
    byol_dataset *ds;
    assert_byol_ok(byol_dataset_from_memory(NULL, pixels, N, H, W, C, labels, &ds));
    return ds;
}

/* Both views of every sample of `epochs` epochs, in the order handed out,
 * and the sample indices. */
typedef struct stream {
    float v[2][3 * N * SF];
    int64_t samples[3 * N];
    int64_t count;
} stream;

static void read_stream(const char *settings, int64_t epochs, stream *out)
{
    byol_config *cfg = make_cfg(settings);
    byol_dataset *ds = make_dataset();
    byol_loader *ld;
    assert_byol_ok(byol_loader_create(cfg, ds, BYOL_LOADER_TRAIN, &ld));
    int64_t per = byol_loader_batches_per_epoch(ld);
    out->count = 0;
    for (int64_t b = 0; b < epochs * per; b++) {
        byol_batch bt = { .struct_size = sizeof bt };
        assert_byol_ok(byol_loader_next(ld, &bt));
        assert_int_equal(bt.epoch, b / per);
        assert_int_equal(bt.index, b % per);
        assert_int_equal(bt.view1.shape[1], C);
        assert_int_equal(bt.view1.shape[2], S);
        for (int64_t j = 0; j < bt.count; j++, out->count++) {
            memcpy(out->v[0] + out->count * SF, bt.view1.data + j * SF, SF * sizeof(float));
            memcpy(out->v[1] + out->count * SF, bt.view2.data + j * SF, SF * sizeof(float));
            out->samples[out->count] = bt.samples[j];
            assert_int_equal(bt.labels[j], labels[bt.samples[j]]);
        }
    }
    byol_loader_destroy(ld);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
}

static void test_same_bytes_any_workers_and_batch(void **state)
{
    (void)state;
    static stream ref, got;
    read_stream("loader.workers=1", 2, &ref);
    assert_int_equal(ref.count, 2 * N);
    const char *variants[] = { "loader.workers=2", "loader.workers=4",
                               "loader.workers=2 train.batch_size=8",
                               "loader.workers=3 train.batch_size=5 loader.prefetch=1" };
    for (size_t k = 0; k < sizeof variants / sizeof *variants; k++) {
        read_stream(variants[k], 2, &got);
        assert_int_equal(got.count, ref.count);
        assert_memory_equal(got.samples, ref.samples, (size_t)ref.count * sizeof(int64_t));
        assert_memory_equal(got.v[0], ref.v[0], (size_t)ref.count * SF * sizeof(float));
        assert_memory_equal(got.v[1], ref.v[1], (size_t)ref.count * SF * sizeof(float));
    }
    /* and the views are the augmenter's, for (seed, epoch, index, view) */
    byol_config *cfg = make_cfg(NULL);
    byol_augmenter *aug;
    float one[SF];
    assert_byol_ok(byol_augmenter_create(cfg, &aug));
    for (int64_t i = 0; i < ref.count; i += 7) {
        int64_t idx = ref.samples[i];
        byol_image img = { sizeof img, H, W, C, pixels + idx * H * W * C };
        assert_byol_ok(byol_augmenter_view(aug, &img, i / N, idx, 2, one));
        assert_memory_equal(one, ref.v[1] + i * SF, sizeof one);
    }
    byol_augmenter_destroy(aug);
    byol_config_destroy(cfg);
}

static void test_epochs_are_permutations(void **state)
{
    (void)state;
    static stream st;
    read_stream(NULL, 3, &st);
    int same_as_first = 0;
    for (int e = 0; e < 3; e++) {
        int seen[N] = { 0 };
        for (int i = 0; i < N; i++)
            seen[st.samples[e * N + i]]++;
        for (int i = 0; i < N; i++)
            assert_int_equal(seen[i], 1);
        if (e > 0 && !memcmp(st.samples, st.samples + e * N, N * sizeof(int64_t)))
            same_as_first++;
    }
    assert_int_equal(same_as_first, 0);
    /* shuffle off: the dataset's order every epoch */
    read_stream("loader.shuffle=0", 1, &st);
    for (int i = 0; i < N; i++)
        assert_int_equal(st.samples[i], i);
}

static void test_drop_last_and_eval_pass(void **state)
{
    (void)state;
    byol_config *cfg = make_cfg("train.batch_size=6");
    byol_dataset *ds = make_dataset();
    byol_loader *ld;
    byol_augmenter *aug;
    assert_byol_ok(byol_loader_create(cfg, ds, BYOL_LOADER_TRAIN, &ld));
    assert_int_equal(byol_loader_batches_per_epoch(ld), N / 6);
    byol_loader_destroy(ld);
    assert_byol_ok(byol_loader_create(cfg, ds, BYOL_LOADER_EVAL, &ld));
    assert_byol_ok(byol_augmenter_create(cfg, &aug));
    assert_int_equal(byol_loader_batches_per_epoch(ld), (N + 5) / 6);
    int64_t seen = 0;
    byol_batch bt = { .struct_size = sizeof bt };
    float one[SF];
    int rc;
    while ((rc = byol_loader_next(ld, &bt)) == BYOL_OK) {
        assert_null(bt.view2.data);
        for (int64_t j = 0; j < bt.count; j++, seen++) {
            assert_int_equal(bt.samples[j], seen); /* in order */
            byol_image img = { sizeof img, H, W, C, pixels + seen * H * W * C };
            assert_byol_ok(byol_augmenter_eval(aug, &img, one));
            assert_memory_equal(one, bt.view1.data + j * SF, sizeof one);
        }
    }
    assert_int_equal(rc, BYOL_DONE);
    assert_int_equal(seen, N);                  /* the last batch is partial */
    assert_int_equal(byol_loader_next(ld, &bt), BYOL_DONE);
    assert_byol_ok(byol_loader_seek(ld, 0, 0)); /* a second pass */
    assert_byol_ok(byol_loader_next(ld, &bt));
    assert_int_equal(bt.samples[0], 0);
    byol_augmenter_destroy(aug);
    byol_loader_destroy(ld);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
}

static void test_seek_gives_the_same_batches(void **state)
{
    (void)state;
    static stream ref;
    read_stream(NULL, 2, &ref);
    byol_config *cfg = make_cfg("loader.workers=3");
    byol_dataset *ds = make_dataset();
    byol_loader *ld;
    assert_byol_ok(byol_loader_create(cfg, ds, BYOL_LOADER_TRAIN, &ld));
    byol_batch bt = { .struct_size = sizeof bt };
    assert_byol_ok(byol_loader_next(ld, &bt)); /* workers busy ahead */
    const int64_t at[][2] = { { 1, 3 }, { 0, 9 }, { 1, 0 } };
    for (int k = 0; k < 3; k++) {
        assert_byol_ok(byol_loader_seek(ld, at[k][0], at[k][1]));
        assert_byol_ok(byol_loader_next(ld, &bt));
        int64_t pos = (at[k][0] * (N / 4) + at[k][1]) * 4;
        assert_int_equal(bt.epoch, at[k][0]);
        assert_int_equal(bt.index, at[k][1]);
        assert_memory_equal(bt.samples, ref.samples + pos, 4 * sizeof(int64_t));
        assert_memory_equal(bt.view1.data, ref.v[0] + pos * SF, 4 * SF * sizeof(float));
        assert_memory_equal(bt.view2.data, ref.v[1] + pos * SF, 4 * SF * sizeof(float));
    }
    assert_int_equal(byol_loader_seek(ld, 0, N / 4), BYOL_E_RANGE);
    assert_int_equal(byol_loader_seek(ld, -1, 0), BYOL_E_RANGE);
    /* the augmenter draws from epochs below 2^32 only */
    assert_int_equal(byol_loader_seek(ld, INT64_C(1) << 32, 0), BYOL_E_RANGE);
    assert_non_null(strstr(byol_last_error(), "epoch 4294967296 batch 0 is outside"));
    /* refused seeks change nothing: the batch after (1, 0) comes next */
    assert_byol_ok(byol_loader_next(ld, &bt));
    assert_int_equal(bt.epoch, 1);
    assert_int_equal(bt.index, 1);
    assert_byol_ok(byol_loader_seek(ld, UINT32_MAX, N / 4 - 1));
    assert_byol_ok(byol_loader_next(ld, &bt));
    assert_int_equal(bt.epoch, UINT32_MAX);
    byol_loader_destroy(ld);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
}

/* ---- sharding across ranks ---------------------------------------------------------- */

enum { MAXR = 12 };

static void open_shards(const byol_config *cfg, const byol_dataset *ds, int32_t mode, int n,
                        byol_loader **ld)
{
    for (int r = 0; r < n; r++) {
        assert_byol_ok(byol_loader_create(cfg, ds, mode, &ld[r]));
        assert_byol_ok(byol_loader_set_shard(ld[r], r, n));
    }
}

static void close_shards(byol_loader **ld, int n)
{
    for (int r = 0; r < n; r++)
        byol_loader_destroy(ld[r]);
}

/* Takes the next batch of each of the n rank loaders and checks that, put
 * one after the other in rank order, they are `want` byte for byte (sample
 * indices, labels, both views), rank r holding [r*c/n, (r+1)*c/n). */
static void expect_slices(byol_loader **ld, int n, const byol_batch *want)
{
    for (int r = 0; r < n; r++) {
        byol_batch bt = { .struct_size = sizeof bt };
        assert_byol_ok(byol_loader_next(ld[r], &bt));
        int64_t lo = r * want->count / n, hi = (r + 1) * want->count / n;
        assert_int_equal(bt.epoch, want->epoch);
        assert_int_equal(bt.index, want->index);
        assert_int_equal(bt.count, hi - lo);
        assert_int_equal(bt.view1.shape[0], hi - lo);
        assert_memory_equal(bt.samples, want->samples + lo, (size_t)bt.count * sizeof(int64_t));
        assert_memory_equal(bt.labels, want->labels + lo, (size_t)bt.count * sizeof(int32_t));
        assert_memory_equal(bt.view1.data, want->view1.data + lo * SF,
                            (size_t)bt.count * SF * sizeof(float));
        assert_true((bt.view2.data == NULL) == (want->view2.data == NULL));
        if (want->view2.data)
            assert_memory_equal(bt.view2.data, want->view2.data + lo * SF,
                                (size_t)bt.count * SF * sizeof(float));
    }
}

/* `batches` batches of an unsharded loader against n sharded ones (all
 * ranks end an evaluation pass at the same call). */
static void check_shards(const char *settings, int32_t mode, int n, int batches)
{
    byol_config *cfg = make_cfg(settings);
    byol_dataset *ds = make_dataset();
    byol_loader *one, *ld[MAXR];
    byol_batch want = { .struct_size = sizeof want };
    assert_byol_ok(byol_loader_create(cfg, ds, mode, &one));
    open_shards(cfg, ds, mode, n, ld);
    for (int b = 0; b < batches; b++) {
        int rc = byol_loader_next(one, &want);
        if (rc == BYOL_DONE) {
            for (int r = 0; r < n; r++)
                assert_int_equal(byol_loader_next(ld[r], &want), BYOL_DONE);
            break;
        }
        assert_byol_ok(rc);
        expect_slices(ld, n, &want);
    }
    close_shards(ld, n);
    byol_loader_destroy(one);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
}

static void test_shards_make_the_global_batch(void **state)
{
    (void)state;
    const int ranks[] = { 1, 2, 4 };
    for (int k = 0; k < 3; k++) {
        /* 5 batches per epoch: 12 batches cross two epoch boundaries */
        check_shards("train.batch_size=8 loader.workers=1", BYOL_LOADER_TRAIN, ranks[k], 12);
        /* a short last batch (40 = 3 * 12 + 4) kept in training */
        check_shards("train.batch_size=12 loader.drop_last=0 loader.workers=2",
                     BYOL_LOADER_TRAIN, ranks[k], 9);
        check_shards("train.batch_size=12 loader.workers=1", BYOL_LOADER_EVAL, ranks[k], 5);
    }
    /* 12 ranks: the last evaluation batch of 4 leaves 8 ranks an empty slice */
    check_shards("train.batch_size=12 loader.workers=1 loader.prefetch=1", BYOL_LOADER_EVAL,
                 12, 5);
}

/* Rank r of n's next batch is its slice of batch (epoch, index) of `ref`,
 * the uninterrupted unsharded stream of 4-sample batches. */
static void expect_ref_slice(byol_loader *ld, int r, int n, const stream *ref, int64_t epoch,
                             int64_t index)
{
    byol_batch bt = { .struct_size = sizeof bt };
    assert_byol_ok(byol_loader_next(ld, &bt));
    int64_t pos = (epoch * (N / 4) + index) * 4 + r * 4 / n;
    assert_int_equal(bt.epoch, epoch);
    assert_int_equal(bt.index, index);
    assert_int_equal(bt.count, 4 / n);
    assert_memory_equal(bt.samples, ref->samples + pos, (size_t)bt.count * sizeof(int64_t));
    assert_memory_equal(bt.view1.data, ref->v[0] + pos * SF, (size_t)bt.count * SF * 4);
    assert_memory_equal(bt.view2.data, ref->v[1] + pos * SF, (size_t)bt.count * SF * 4);
}

static void test_shards_seek_and_resume(void **state)
{
    (void)state;
    static stream ref;
    read_stream(NULL, 2, &ref);
    byol_config *cfg = make_cfg("loader.workers=2");
    byol_dataset *ds = make_dataset();
    byol_loader *ld[4];
    /* 2 ranks run 3 batches, then resume at epoch 1 batch 2 on 2 and on 4 */
    const int ranks[] = { 2, 4 };
    for (int k = 0; k < 2; k++) {
        int n = ranks[k];
        open_shards(cfg, ds, BYOL_LOADER_TRAIN, n, ld);
        for (int r = 0; r < n; r++) {
            expect_ref_slice(ld[r], r, n, &ref, 0, 0);
            assert_byol_ok(byol_loader_seek(ld[r], 1, 2));
            expect_ref_slice(ld[r], r, n, &ref, 1, 2);
            expect_ref_slice(ld[r], r, n, &ref, 1, 3);
        }
        close_shards(ld, n);
    }
    /* sharded mid-run: the batch that would have come next, sliced; and
     * back to one rank */
    assert_byol_ok(byol_loader_create(cfg, ds, BYOL_LOADER_TRAIN, &ld[0]));
    for (int b = 0; b < 9; b++)
        expect_ref_slice(ld[0], 0, 1, &ref, 0, b);
    assert_byol_ok(byol_loader_set_shard(ld[0], 1, 2));
    expect_ref_slice(ld[0], 1, 2, &ref, 0, 9);
    expect_ref_slice(ld[0], 1, 2, &ref, 1, 0);
    assert_byol_ok(byol_loader_set_shard(ld[0], 0, 1));
    expect_ref_slice(ld[0], 0, 1, &ref, 1, 1);
    byol_loader_destroy(ld[0]);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
}

static void test_shard_refusals(void **state)
{
    (void)state;
    static stream ref;
    read_stream(NULL, 1, &ref);
    byol_config *cfg = make_cfg(NULL); /* train.batch_size=4 */
    byol_dataset *ds = make_dataset();
    byol_loader *ld;
    assert_byol_ok(byol_loader_create(cfg, ds, BYOL_LOADER_TRAIN, &ld));
    assert_int_equal(byol_loader_set_shard(NULL, 0, 1), BYOL_E_INVALID_ARG);
    const int32_t bad[][2] = { { 0, 0 }, { -1, 2 }, { 2, 2 }, { 0, -4 } };
    for (int k = 0; k < 4; k++) {
        assert_int_equal(byol_loader_set_shard(ld, bad[k][0], bad[k][1]), BYOL_E_RANGE);
        char want[64];
        snprintf(want, sizeof want, "rank %d of %d ranks", (int)bad[k][0], (int)bad[k][1]);
        assert_non_null(strstr(byol_last_error(), want));
    }
    assert_int_equal(byol_loader_set_shard(ld, 1, 3), BYOL_E_RANGE);
    assert_non_null(strstr(byol_last_error(), "3 ranks do not divide train.batch_size 4"));
    assert_int_equal(byol_loader_set_shard(ld, 0, 8), BYOL_E_RANGE);
    assert_non_null(strstr(byol_last_error(), "8 ranks do not divide train.batch_size 4"));
    /* refusals change nothing: the whole first batch comes */
    expect_ref_slice(ld, 0, 1, &ref, 0, 0);
    byol_loader_destroy(ld);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
}

/* ---- bad files -------------------------------------------------------------------- */

static char dir[256];

/* A two-class folder of 8 good PNGs and 2 bad files (a.png: garbage,
 * b.jpg: empty), all in class "cat". */
static void make_folder(void)
{
    snprintf(dir, sizeof dir, "/tmp/byol_loader_%d", (int)getpid());
    char p[512];
    const char *classes[2] = { "cat", "dog" };
    mkdir(dir, 0755);
    for (int c = 0; c < 2; c++) {
        snprintf(p, sizeof p, "%s/%s", dir, classes[c]);
        mkdir(p, 0755);
        for (int i = 0; i < 4; i++) {
            byol_image img = { sizeof img, H, W, C, pixels + (c * 4 + i) * H * W * C };
            snprintf(p, sizeof p, "%s/%s/%d.png", dir, classes[c], i);
            assert_byol_ok(byol_image_write_png(p, &img));
        }
    }
    snprintf(p, sizeof p, "%s/cat/a.png", dir);
    FILE *f = fopen(p, "wb");
    fputs("this is not a png", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/cat/b.jpg", dir);
    fclose(fopen(p, "wb"));
}

static void remove_folder(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_bad_files_stop_or_skip(void **state)
{
    (void)state;
    make_folder();
    byol_dataset *ds;
    byol_config *cfg = make_cfg("loader.shuffle=0 train.batch_size=5 loader.workers=2");
    assert_byol_ok(byol_dataset_open(cfg, dir, &ds));
    assert_int_equal(byol_dataset_size(ds), 10);
    /* stop: sorted names put cat/0..3.png then cat/a.png, cat/b.jpg */
    byol_loader *ld;
    byol_batch bt = { .struct_size = sizeof bt };
    assert_byol_ok(byol_loader_create(cfg, ds, BYOL_LOADER_TRAIN, &ld));
    int rc = byol_loader_next(ld, &bt);
    assert_int_equal(rc, BYOL_E_DECODE);
    assert_non_null(strstr(byol_last_error(), "a.png"));
    rc = byol_loader_next(ld, &bt);            /* the next batch holds b.jpg */
    assert_true(rc < 0);
    assert_non_null(strstr(byol_last_error(), "b.jpg"));
    assert_int_equal(byol_loader_skipped(ld), 0);
    byol_loader_destroy(ld);
    /* skip: every batch comes, bad images replaced by the next ones */
    assert_byol_ok(byol_config_parse(cfg, "loader.on_error=skip"));
    assert_byol_ok(byol_loader_create(cfg, ds, BYOL_LOADER_TRAIN, &ld));
    for (int b = 0; b < 4; b++) {
        assert_byol_ok(byol_loader_next(ld, &bt));
        for (int64_t j = 0; j < bt.count; j++)
            assert_true(bt.samples[j] != 4 && bt.samples[j] != 5);
    }
    /* per epoch: a.png's place tries a.png, b.jpg, then dog/0.png (2 skips),
     * b.jpg's place tries b.jpg, then dog/0.png (1 skip); two epochs */
    assert_int_equal(byol_loader_skipped(ld), 6);
    byol_loader_destroy(ld);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
    remove_folder();
}

/* A bad image is replaced inside its own slice: the ranks' slices still
 * make the unsharded batch, only the rank holding a bad image decodes it
 * (and counts it), and on stop only that rank fails. */
static void test_shards_with_bad_files(void **state)
{
    (void)state;
    make_folder();
    byol_dataset *ds;
    byol_config *cfg = make_cfg("loader.shuffle=0 train.batch_size=10 loader.workers=1 "
                                "loader.on_error=skip");
    assert_byol_ok(byol_dataset_open(cfg, dir, &ds));
    byol_loader *one, *ld[5];
    byol_batch want = { .struct_size = sizeof want };
    assert_byol_ok(byol_loader_create(cfg, ds, BYOL_LOADER_TRAIN, &one));
    open_shards(cfg, ds, BYOL_LOADER_TRAIN, 5, ld);
    for (int b = 0; b < 2; b++) {       /* one batch per epoch */
        assert_byol_ok(byol_loader_next(one, &want));
        expect_slices(ld, 5, &want);
    }
    /* a.png (4) and b.jpg (5) are rank 2's: 3 skips per epoch, as unsharded */
    assert_int_equal(byol_loader_skipped(one), 6);
    for (int r = 0; r < 5; r++)
        assert_int_equal(byol_loader_skipped(ld[r]), r == 2 ? 6 : 0);
    close_shards(ld, 5);
    byol_loader_destroy(one);
    assert_byol_ok(byol_config_parse(cfg, "loader.on_error=stop"));
    open_shards(cfg, ds, BYOL_LOADER_TRAIN, 5, ld);
    for (int r = 0; r < 5; r++) {
        byol_batch bt = { .struct_size = sizeof bt };
        int rc = byol_loader_next(ld[r], &bt);
        assert_int_equal(rc, r == 2 ? BYOL_E_DECODE : BYOL_OK);
        if (r == 2) /* numbered within the global batch, as unsharded */
            assert_non_null(strstr(byol_last_error(), "batch 0, sample 4: "));
    }
    close_shards(ld, 5);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
    remove_folder();
}

static void test_shutdown_and_bad_calls(void **state)
{
    (void)state;
    byol_config *cfg = make_cfg("loader.workers=4 loader.prefetch=8");
    byol_dataset *ds = make_dataset();
    byol_loader *ld = NULL;
    byol_batch bt = { .struct_size = sizeof bt };
    for (int k = 0; k < 20; k++) {  /* destroyed while the workers are busy */
        assert_byol_ok(byol_loader_create(cfg, ds, BYOL_LOADER_TRAIN, &ld));
        if (k % 2)
            assert_byol_ok(byol_loader_next(ld, &bt));
        byol_loader_destroy(ld);
    }
    byol_loader_destroy(NULL);
    assert_int_equal(byol_loader_create(cfg, NULL, BYOL_LOADER_TRAIN, &ld), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_loader_create(cfg, ds, 7, &ld), BYOL_E_INVALID_ARG);
    assert_null(ld);
    assert_byol_ok(byol_config_parse(cfg, "train.batch_size=41"));
    assert_int_equal(byol_loader_create(cfg, ds, BYOL_LOADER_TRAIN, &ld), BYOL_E_SHAPE);
    assert_non_null(strstr(byol_last_error(), "40 images"));
    assert_byol_ok(byol_loader_create(cfg, ds, BYOL_LOADER_EVAL, &ld)); /* one partial batch */
    bt.struct_size = 8;
    assert_int_equal(byol_loader_next(ld, &bt), BYOL_E_ABI);
    assert_int_equal(byol_loader_next(NULL, &bt), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_loader_seek(ld, 1, 0), BYOL_E_RANGE);
    byol_loader_destroy(ld);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bytes_any_workers_and_batch),
        cmocka_unit_test(test_epochs_are_permutations),
        cmocka_unit_test(test_drop_last_and_eval_pass),
        cmocka_unit_test(test_seek_gives_the_same_batches),
        cmocka_unit_test(test_bad_files_stop_or_skip),
        cmocka_unit_test(test_shutdown_and_bad_calls),
        cmocka_unit_test(test_shards_make_the_global_batch),
        cmocka_unit_test(test_shards_seek_and_resume),
        cmocka_unit_test(test_shard_refusals),
        cmocka_unit_test(test_shards_with_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
