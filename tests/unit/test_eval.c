/* byol_eval_knn and byol_eval_linear_probe against hand computations, a
 * brute-force k-NN written here, separable data, and errors;
 * byol_embed_dataset against byol_net_embed, and its eval.grid embedding
 * against adaptive_avg_pool2d's formula. */
#define _DEFAULT_SOURCE /* M_PI */
#include "test_util.h"

#include "nn/nn.h"

/* By hand: bank on the unit circle at 0, 10, 70 degrees (class 0) and 90,
 * 105 degrees (class 1). A query at 72 degrees has cosines 0.9994 (70),
 * 0.951 (90), 0.839 (105), 0.469 (10), 0.309 (0). With k=3 the votes are
 * class 0: exp(0.9994/t), class 1: exp(0.951/t) + exp(0.839/t): class 1
 * for t=1 (2.717 < 4.902), class 0 for t=0.01 (e^99.9 > e^95.1 + e^83.9).
 * A query at 30 degrees with k=2 has 10 (0.940) and 0 (0.866): class 0. */
static double knn_one(const char *settings, double query_deg, int32_t truth)
{
    const double deg[5] = { 0, 10, 70, 90, 105 };
    const int32_t bl[5] = { 0, 0, 0, 1, 1 };
    float bank[10], q[2];
    for (int i = 0; i < 5; i++) {
        bank[2 * i] = (float)cos(deg[i] * M_PI / 180);
        bank[2 * i + 1] = (float)sin(deg[i] * M_PI / 180);
    }
    q[0] = 3.0f * (float)cos(query_deg * M_PI / 180); /* normalised inside */
    q[1] = 3.0f * (float)sin(query_deg * M_PI / 180);
    byol_config *cfg = tu_config(settings);
    double acc = -1;
    assert_byol_ok(byol_eval_knn(cfg, bank, bl, 5, q, &truth, 1, 2, &acc));
    byol_config_destroy(cfg);
    return acc;
}

static void test_knn_by_hand(void **state)
{
    (void)state;
    assert_true(knn_one("eval.knn_k=3 eval.knn_temperature=1", 72, 1) == 1.0);
    assert_true(knn_one("eval.knn_k=3 eval.knn_temperature=1", 72, 0) == 0.0);
    assert_true(knn_one("eval.knn_k=3 eval.knn_temperature=0.01", 72, 0) == 1.0);
    assert_true(knn_one("eval.knn_k=2 eval.knn_temperature=1", 30, 0) == 1.0);
    assert_true(knn_one("eval.knn_k=1", 100, 1) == 1.0);
}

/* The same protocol written plainly: all similarities, a full sort. */
static int32_t brute_predict(const float *bank, const int32_t *bl, int64_t nb, const float *q,
                             int64_t dim, int64_t k, double t, int32_t classes)
{
    double *sims = malloc((size_t)nb * sizeof *sims), qn = 0, score[16] = { 0 };
    int64_t *idx = malloc((size_t)nb * sizeof *idx);
    for (int64_t d = 0; d < dim; d++)
        qn += (double)q[d] * q[d];
    for (int64_t j = 0; j < nb; j++) {
        double s = 0, bn = 0;
        for (int64_t d = 0; d < dim; d++) {
            s += (double)q[d] * bank[j * dim + d];
            bn += (double)bank[j * dim + d] * bank[j * dim + d];
        }
        sims[j] = s / sqrt(qn * bn);
        idx[j] = j;
    }
    for (int64_t a = 0; a < k; a++) /* selection sort of the first k */
        for (int64_t b = a + 1; b < nb; b++)
            if (sims[idx[b]] > sims[idx[a]] ||
                (sims[idx[b]] == sims[idx[a]] && idx[b] < idx[a])) {
                int64_t tmp = idx[a];
                idx[a] = idx[b];
                idx[b] = tmp;
            }
    for (int64_t a = 0; a < k; a++)
        score[bl[idx[a]]] += exp(sims[idx[a]] / t);
    int32_t best = 0;
    for (int32_t c = 1; c < classes; c++)
        if (score[c] > score[best])
            best = c;
    free(sims);
    free(idx);
    return best;
}

static void test_knn_matches_brute_force(void **state)
{
    (void)state;
    enum { NB = 700, NQ = 300, D = 12, K = 20, CL = 6 };
    static float bank[NB * D], query[NQ * D];
    static int32_t bl[NB], ql[NQ];
    tu_fill(bank, NB * D, 1, 1.0f);
    tu_fill(query, NQ * D, 2, 1.0f);
    for (int i = 0; i < NB; i++) {
        bl[i] = (int32_t)(((unsigned)i * 7919u) % CL);
        bank[i * D + bl[i]] += 1.5f; /* some structure, so accuracy is not trivial */
    }
    int64_t want = 0;
    for (int i = 0; i < NQ; i++) {
        ql[i] = i % CL;
        query[i * D + ql[i]] += 1.0f;
    }
    for (int i = 0; i < NQ; i++)
        want += brute_predict(bank, bl, NB, query + i * D, D, K, 0.07, CL) == ql[i];
    double acc;
    for (int threads = 1; threads <= 2; threads++) {
        char s[128];
        snprintf(s, sizeof s, "eval.knn_k=%d eval.knn_temperature=0.07 threads=%d", K, threads);
        byol_config *cfg = tu_config(s);
        assert_byol_ok(byol_eval_knn(cfg, bank, bl, NB, query, ql, NQ, D, &acc));
        assert_true(acc == (double)want / NQ);
        byol_config_destroy(cfg);
    }
    assert_true(acc > 0.4 && acc < 1.0);
}

/* Gaussian blobs around well separated centres: a linear probe must get
 * nearly all of held-out points right; shuffled labels must not. */
static void make_blobs(float *x, int32_t *y, int n, int dim, int classes, uint32_t seed,
                       float spread)
{
    tu_fill(x, (size_t)n * dim, seed, spread);
    for (int i = 0; i < n; i++) {
        y[i] = i % classes;
        x[i * dim + y[i]] += 3.0f;
        x[i * dim + dim - 1] = 100.0f + 50.0f * x[i * dim + dim - 1]; /* badly scaled */
    }
}

static void test_probe_learns_separable_data(void **state)
{
    (void)state;
    enum { N = 2000, NT = 500, D = 16, CL = 5 };
    static float x[N * D], t[NT * D];
    static int32_t y[N], yt[NT];
    make_blobs(x, y, N, D, CL, 3, 1.0f);
    make_blobs(t, yt, NT, D, CL, 4, 1.0f);
    byol_config *cfg = tu_config("eval.probe_epochs=10");
    double acc, acc2;
    assert_byol_ok(byol_eval_linear_probe(cfg, x, y, N, t, yt, NT, D, &acc));
    assert_true(acc > 0.97);
    assert_byol_ok(byol_eval_linear_probe(cfg, x, y, N, t, yt, NT, D, &acc2));
    assert_true(acc == acc2); /* deterministic */
    for (int i = 0; i < N; i++)
        y[i] = (int32_t)(((unsigned)i * 2654435761u >> 7) % CL); /* labels unrelated to x */
    assert_byol_ok(byol_eval_linear_probe(cfg, x, y, N, t, yt, NT, D, &acc));
    assert_true(acc < 0.4);
    byol_config_destroy(cfg);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    float x[4] = { 1, 0, 0, 1 };
    int32_t y[2] = { 0, 1 }, bad[2] = { 0, -1 };
    double acc;
    assert_int_equal(byol_eval_knn(NULL, NULL, y, 2, x, y, 2, 2, &acc), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_eval_knn(NULL, x, y, 0, x, y, 2, 2, &acc), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_eval_knn(NULL, x, y, 2, x, bad, 2, 2, &acc), BYOL_E_INVALID_ARG);
    assert_non_null(strstr(byol_last_error(), "test label 1 is -1"));
    assert_int_equal(byol_eval_linear_probe(NULL, x, bad, 2, x, y, 2, 2, &acc),
                     BYOL_E_INVALID_ARG);
    assert_int_equal(byol_eval_linear_probe(NULL, x, y, 2, x, y, 2, 0, &acc),
                     BYOL_E_INVALID_ARG);
    /* The largest int32 label once made the class count overflow (a crash). */
    int32_t huge[2] = { 0, INT32_MAX };
    assert_int_equal(byol_eval_knn(NULL, x, huge, 2, x, y, 2, 2, &acc), BYOL_E_INVALID_ARG);
    assert_non_null(strstr(byol_last_error(), "training label 1 is 2147483647"));
    assert_int_equal(byol_eval_linear_probe(NULL, x, y, 2, x, huge, 2, 2, &acc),
                     BYOL_E_INVALID_ARG);
    huge[1] = BYOL_EVAL_MAX_LABEL;   /* the largest taken: 2^24 classes, 2 rows */
    assert_byol_ok(byol_eval_knn(NULL, x, huge, 2, x, huge, 2, 2, &acc));
    assert_byol_ok(byol_eval_knn(NULL, x, y, 2, x, y, 2, 2, &acc)); /* k > bank: all of it */
    assert_true(acc == 1.0);
}

/* byol_embed_dataset equals the evaluation transform and byol_net_embed
 * applied image by image. */
static void test_embed_dataset(void **state)
{
    (void)state;
    enum { N = 37, S = 28 };
    static uint8_t px[N * S * S];
    int32_t lab[N];
    for (int i = 0; i < N * S * S; i++)
        px[i] = (uint8_t)((unsigned)i * 2654435761u >> 24);
    for (int i = 0; i < N; i++)
        lab[i] = i % 3;
    byol_config *cfg = tu_config(NULL);
    assert_byol_ok(byol_config_apply_preset(cfg, "fashion-mnist"));
    /* eval.grid=1 first: the encoder's own output, as byol_net_embed gives it */
    assert_byol_ok(byol_config_parse(cfg, "net.width=0.25 train.batch_size=8 loader.workers=2 "
                                          "eval.grid=1"));
    byol_dataset *ds;
    byol_net *net;
    byol_augmenter *aug;
    assert_byol_ok(byol_dataset_from_memory(cfg, px, N, S, S, 1, lab, &ds));
    assert_byol_ok(byol_net_create(cfg, &net));
    assert_byol_ok(byol_augmenter_create(cfg, &aug));
    float *emb;
    int32_t *got;
    int64_t n, dim;
    assert_byol_ok(byol_embed_dataset(net, cfg, ds, &emb, &got, &n, &dim));
    assert_int_equal(n, N);
    assert_int_equal(dim, 32);
    float x[S * S], y[32];
    byol_tensor tx = { sizeof tx, 4, { 1, 1, S, S }, x }, ty = { sizeof ty, 2, { 1, 32 }, y };
    for (int i = 0; i < N; i++) {
        byol_image img = { sizeof img, S, S, 1, px + i * S * S };
        assert_byol_ok(byol_augmenter_eval(aug, &img, x));
        assert_byol_ok(byol_net_embed(net, &tx, &ty));
        tu_assert_close("embedding", emb + i * 32, y, 32, 1e-5, 1e-6);
        assert_int_equal(got[i], lab[i]);
    }
    byol_free(emb);
    byol_free(got);
    /* the preset's eval.grid=2: cnn-small's 32x7x7 map on a 2x2 grid */
    assert_byol_ok(byol_config_apply_preset(cfg, "fashion-mnist"));
    assert_byol_ok(byol_config_parse(cfg, "net.width=0.25 train.batch_size=8"));
    assert_byol_ok(byol_embed_dataset(net, cfg, ds, &emb, NULL, &n, &dim));
    assert_int_equal(dim, 32 * 4);
    byol_free(emb);
    /* an encoder for other images is refused by shape */
    assert_byol_ok(byol_config_parse(cfg, "augment.size=32"));
    assert_int_equal(byol_embed_dataset(net, cfg, ds, &emb, NULL, &n, &dim), BYOL_E_SHAPE);
    assert_null(emb);
    assert_non_null(strstr(byol_last_error(), "augment.size"));
    byol_augmenter_destroy(aug);
    byol_net_destroy(net);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
}

/* ---- eval.grid ---------------------------------------------------------------- */

enum { GC_IN = 3, GC = 4 };

/* Mixes the input's GC_IN channels into GC by a 1x1 convolution of known
 * weights, then the global average pool: the map before it is known. */
static const float grid_w[GC][GC_IN] = {
    { 1, 0, 0 }, { 0, 2, 0 }, { 0.5f, -1, 0.25f }, { -0.5f, 0.75f, 1 }
};

static byol_net *grid_net(int64_t h, int64_t w, int head)
{
    byol_builder *b;
    int32_t conv, pool, lin;
    byol_net *net;
    assert_byol_ok(byol_builder_create(NULL, GC_IN, h, w, &b));
    assert_byol_ok(byol_builder_conv2d(b, "mix", 0, GC, 1, 1, 0, 0, &conv));
    assert_byol_ok(byol_builder_avgpool(b, conv, &pool));
    if (head)
        assert_byol_ok(byol_builder_linear(b, "head", pool, 2, 1, &lin));
    assert_byol_ok(byol_builder_finish(b, head ? lin : pool, &net));
    byol_builder_destroy(b);
    int64_t count;
    float *wt = byol_net_buffer(net, BYOL_BUFFER_PARAMS, &count);
    assert_true(count >= GC * GC_IN); /* "mix.weight" [GC, GC_IN, 1, 1] comes first */
    memcpy(wt, grid_w, sizeof grid_w);
    return net;
}

/* adaptive_avg_pool2d(mix(x), g).flatten(1) of one [GC_IN, h, w] sample, in
 * doubles: window i covers [floor(i*h/g), ceil((i+1)*h/g)). */
static void grid_expect(const float *x, int64_t h, int64_t w, int g, double *y)
{
    for (int c = 0; c < GC; c++)
        for (int i = 0; i < g; i++)
            for (int j = 0; j < g; j++) {
                int64_t r0 = (int64_t)floor((double)i * h / g);
                int64_t r1 = (int64_t)ceil((double)(i + 1) * h / g);
                int64_t c0 = (int64_t)floor((double)j * w / g);
                int64_t c1 = (int64_t)ceil((double)(j + 1) * w / g);
                double sum = 0;
                for (int64_t r = r0; r < r1; r++)
                    for (int64_t q = c0; q < c1; q++)
                        for (int k = 0; k < GC_IN; k++)
                            sum += grid_w[c][k] * x[(k * h + r) * w + q];
                y[(c * g + i) * g + j] = sum / (double)((r1 - r0) * (c1 - c0));
            }
}

static void grid_assert(const float *got, const float *x, int64_t n, int64_t h, int64_t w, int g)
{
    double want[GC * 25];
    for (int64_t s = 0; s < n; s++) {
        grid_expect(x + s * GC_IN * h * w, h, w, g, want);
        for (int k = 0; k < GC * g * g; k++)
            if (fabs(got[s * GC * g * g + k] - want[k]) > 1e-5 * (1 + fabs(want[k])))
                fail_msg("%lldx%lld grid %d: sample %lld element %d is %g, expected %g",
                         (long long)h, (long long)w, g, (long long)s, k,
                         (double)got[s * GC * g * g + k], want[k]);
    }
}

/* GN square s x s images of GC_IN channels, their evaluation transform x
 * (byol_augmenter_eval) and their byol_embed_dataset rows under eval.grid=g
 * through grid_net. */
enum { GN = 11 };
typedef struct grid_case {
    byol_net *net;
    float x[GN * GC_IN * 7 * 7], *emb;
    int64_t dim;
} grid_case;

static void grid_case_run(grid_case *t, int64_t s, int g)
{
    uint8_t px[GN * 7 * 7 * GC_IN];
    for (int i = 0; i < (int)sizeof px; i++)
        px[i] = (uint8_t)((unsigned)(i + 7 * g) * 2654435761u >> 24);
    char text[160];
    snprintf(text, sizeof text, "data.channels=3 augment.size=%lld augment.eval_crop=1 "
             "train.batch_size=4 eval.grid=%d", (long long)s, g);
    byol_config *cfg = tu_config(text);
    byol_dataset *ds;
    byol_augmenter *aug;
    t->net = grid_net(s, s, 0);
    assert_byol_ok(byol_dataset_from_memory(cfg, px, GN, s, s, GC_IN, NULL, &ds));
    assert_byol_ok(byol_augmenter_create(cfg, &aug));
    for (int i = 0; i < GN; i++) {
        byol_image img = { sizeof img, s, s, GC_IN, px + i * s * s * GC_IN };
        assert_byol_ok(byol_augmenter_eval(aug, &img, t->x + i * GC_IN * s * s));
    }
    int64_t n;
    assert_byol_ok(byol_embed_dataset(t->net, cfg, ds, &t->emb, NULL, &n, &t->dim));
    assert_int_equal(n, GN);
    byol_augmenter_destroy(aug);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
}

static void grid_case_free(grid_case *t)
{
    byol_free(t->emb);
    byol_net_destroy(t->net);
}

/* byol_embed_dataset with eval.grid on square images (the evaluation
 * transform makes them so) against the formula on the transformed images. */
static void grid_dataset_case(int64_t s, int g)
{
    grid_case t;
    grid_case_run(&t, s, g);
    assert_int_equal(t.dim, GC * g * g);
    grid_assert(t.emb, t.x, GN, s, s, g);
    grid_case_free(&t);
}

/* eval.grid G against the formula: odd and even sides through
 * byol_embed_dataset, and a 6x5 map (which square images cannot give)
 * through the internal pass it calls. */
static void test_embed_grid(void **state)
{
    (void)state;
    for (int g = 2; g <= 3; g++) {
        grid_dataset_case(7, g);
        grid_dataset_case(6, g);
    }
    enum { N = 5, H = 6, W = 5 };
    float x[N * GC_IN * H * W], y[N * GC * 25];
    tu_fill(x, sizeof x / sizeof *x, 3, 1.0f);
    byol_net *net = grid_net(H, W, 0);
    assert_byol_ok(byol_net_plan(net, 2)); /* chunks of 2, 2, 1 */
    for (int g = 2; g <= 5; g++) {
        assert_byol_ok(byol__nn_embed_grid(net, x, N, g, y));
        grid_assert(y, x, N, H, W, g);
    }
    byol_net_destroy(net);
}

/* eval.grid=1 is the encoder's output, bit for bit (the loader's batches
 * of 4 are byol_net_embed's chunks of the planned 4). */
static void test_embed_grid_one(void **state)
{
    (void)state;
    grid_case t;
    grid_case_run(&t, 7, 1);
    assert_int_equal(t.dim, GC);
    float y[GN * GC];
    byol_tensor tx = { sizeof tx, 4, { GN, GC_IN, 7, 7 }, t.x };
    byol_tensor ty = { sizeof ty, 2, { GN, GC }, y };
    assert_byol_ok(byol_net_embed(t.net, &tx, &ty));
    assert_memory_equal(t.emb, y, sizeof y);
    grid_case_free(&t);
}

static void grid_refused(byol_net *net, byol_config *cfg, const byol_dataset *ds,
                         const char *what)
{
    float *emb = (float *)1;
    int64_t n = -1, dim = -1;
    assert_int_equal(byol_embed_dataset(net, cfg, ds, &emb, NULL, &n, &dim), BYOL_E_SHAPE);
    assert_null(emb);
    assert_int_equal(dim, -1);
    assert_non_null(strstr(byol_last_error(), "eval.grid"));
    assert_non_null(strstr(byol_last_error(), what));
}

/* A grid needs a global average pool as the output and a map at least G
 * on each side; out of 1..16 the key is refused; the net stays usable. */
static void test_embed_grid_errors(void **state)
{
    (void)state;
    enum { N = 3, S = 7 };
    uint8_t px[N * S * S * GC_IN] = { 0 };
    byol_config *cfg = tu_config("data.channels=3 augment.size=7 train.batch_size=2");
    byol_dataset *ds;
    assert_byol_ok(byol_dataset_from_memory(cfg, px, N, S, S, GC_IN, NULL, &ds));
    byol_net *head = grid_net(S, S, 1), *net = grid_net(S, S, 0);
    assert_byol_ok(byol_config_parse(cfg, "eval.grid=2"));
    grid_refused(head, cfg, ds, "[2]");
    assert_byol_ok(byol_config_parse(cfg, "eval.grid=8"));
    grid_refused(net, cfg, ds, "[4,7,7]");
    assert_int_equal(byol_config_parse(cfg, "eval.grid=0"), BYOL_E_RANGE);
    assert_int_equal(byol_config_parse(cfg, "eval.grid=17"), BYOL_E_RANGE);
    assert_non_null(strstr(byol_last_error(), "eval.grid"));
    assert_byol_ok(byol_config_parse(cfg, "eval.grid=7"));
    float *emb;
    int64_t n, dim;
    assert_byol_ok(byol_embed_dataset(net, cfg, ds, &emb, NULL, &n, &dim));
    assert_int_equal(dim, GC * 49);
    byol_free(emb);
    byol_net_destroy(head);
    byol_net_destroy(net);
    byol_dataset_destroy(ds);
    byol_config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_knn_by_hand),
        cmocka_unit_test(test_knn_matches_brute_force),
        cmocka_unit_test(test_probe_learns_separable_data),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_embed_dataset),
        cmocka_unit_test(test_embed_grid),
        cmocka_unit_test(test_embed_grid_one),
        cmocka_unit_test(test_embed_grid_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
