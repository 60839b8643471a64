/* Linear probe: softmax regression on standardised frozen embeddings,
 * trained with libbyol's SGD (Nesterov momentum 0.9) and a cosine lr. */
#include <math.h>
#include <string.h>

#include "core/config.h"
#include "core/internal.h"
#include "eval/eval.h"
#include "linalg/linalg.h"
#include "optim/optim.h"

typedef struct probe {
    int64_t dim, classes, batch;
    float *params, *grads;     /* [W (classes x dim) | b (classes)] */
    float *xb, *logits;        /* one mini-batch: [batch, dim], [batch, classes] */
    int64_t *order;
    byol__optim *sgd;
} probe;

/* ---- features ---------------------------------------------------------------- */

/* x [n, dim] -> (x - mean) / std per dimension, with the training rows'
 * statistics (a constant dimension is only centred). */
static void standardise(const float *x, int64_t n, int64_t dim, const double *mean,
                        const double *inv_std, float *out)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t d = 0; d < dim; d++)
            out[i * dim + d] = (float)(((double)x[i * dim + d] - mean[d]) * inv_std[d]);
}

static void moments(const float *x, int64_t n, int64_t dim, double *mean, double *inv_std)
{
    memset(mean, 0, (size_t)dim * sizeof *mean);
    memset(inv_std, 0, (size_t)dim * sizeof *inv_std);
    for (int64_t i = 0; i < n; i++)
        for (int64_t d = 0; d < dim; d++)
            mean[d] += x[i * dim + d];
    for (int64_t d = 0; d < dim; d++)
        mean[d] /= (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int64_t d = 0; d < dim; d++) {
            double e = x[i * dim + d] - mean[d];
            inv_std[d] += e * e;
        }
    for (int64_t d = 0; d < dim; d++) {
        double sd = sqrt(inv_std[d] / (double)n);
        inv_std[d] = sd > 1e-12 ? 1.0 / sd : 1.0;
    }
}

/* ---- the model ------------------------------------------------------------------- */

/* logits [nb, classes] = x [nb, dim] W^T + b */
static void forward(const probe *p, const float *x, int64_t nb, float *logits)
{
    const float *w = p->params, *b = p->params + p->classes * p->dim;
    for (int64_t i = 0; i < nb; i++)
        memcpy(logits + i * p->classes, b, (size_t)p->classes * sizeof(float));
    byol__gemm(0, 1, nb, p->classes, p->dim, 1.0f, x, p->dim, w, p->dim, 1.0f, logits,
               p->classes);
}

/* logits [nb, classes] -> d(mean cross-entropy)/d logits, in place */
static void softmax_grad(float *logits, const int32_t *labels, int64_t nb, int64_t classes)
{
    for (int64_t i = 0; i < nb; i++) {
        float *z = logits + i * classes, mx = z[0];
        for (int64_t c = 1; c < classes; c++)
            mx = z[c] > mx ? z[c] : mx;
        double s = 0;
        for (int64_t c = 0; c < classes; c++)
            s += exp((double)(z[c] - mx));
        for (int64_t c = 0; c < classes; c++)
            z[c] = (float)((exp((double)(z[c] - mx)) / s - (c == labels[i])) / (double)nb);
    }
}

/* One SGD step on rows rows[0 .. nb) of x. */
static int train_batch(probe *p, const float *x, const int32_t *labels, const int64_t *rows,
                       int64_t nb, int32_t *yb, const byol__param_span *spans, double lr)
{
    for (int64_t i = 0; i < nb; i++) {
        memcpy(p->xb + i * p->dim, x + rows[i] * p->dim, (size_t)p->dim * sizeof(float));
        yb[i] = labels[rows[i]];
    }
    forward(p, p->xb, nb, p->logits);
    softmax_grad(p->logits, yb, nb, p->classes);
    float *gw = p->grads, *gb = p->grads + p->classes * p->dim;
    /* gW [classes, dim] = dlogits^T xb; gb = column sums of dlogits */
    byol__gemm(1, 0, p->classes, p->dim, nb, 1.0f, p->logits, p->classes, p->xb, p->dim, 0.0f,
               gw, p->dim);
    memset(gb, 0, (size_t)p->classes * sizeof(float));
    byol__colsum_add(nb, p->classes, p->logits, gb);
    return byol__optim_step(p->sgd, spans, 2, p->params, p->grads, lr);
}

static void shuffle(int64_t *order, int64_t n, uint64_t seed, int64_t epoch)
{
    byol__rng r;
    byol__rng_init(&r, seed, 0x50524f42u /* "PROB" */, (uint32_t)epoch, 0);
    for (int64_t i = 0; i < n; i++)
        order[i] = i;
    byol__rng_shuffle(&r, order, n);
}

static int train(probe *p, const byol_config *cfg, const float *x, const int32_t *labels,
                 int64_t n, int32_t *yb)
{
    const int64_t epochs = byol__cfg_int(cfg, BYOL__K_EVAL_PROBE_EPOCHS);
    const int64_t per_epoch = (n + p->batch - 1) / p->batch, total = epochs * per_epoch;
    const double lr0 = byol__cfg_float(cfg, BYOL__K_EVAL_PROBE_LR);
    const byol__param_span spans[2] = { { 0, p->classes * p->dim, 0 },
                                        { p->classes * p->dim, p->classes, BYOL_TENSOR_BIAS } };
    int rc = BYOL_OK;
    for (int64_t e = 0; rc == BYOL_OK && e < epochs; e++) {
        shuffle(p->order, n, (uint64_t)byol__cfg_int(cfg, BYOL__K_SEED), e);
        for (int64_t b = 0; rc == BYOL_OK && b < per_epoch; b++) {
            int64_t k = e * per_epoch + b, at = b * p->batch;
            double lr = byol__lr_at(k, total, 0, lr0);
            rc = train_batch(p, x, labels, p->order + at, n - at < p->batch ? n - at : p->batch,
                             yb, spans, lr);
        }
    }
    return rc;
}

/* Top-1 accuracy of the trained probe on x [n, dim] (ties: the lower label). */
static double accuracy_of(probe *p, const float *x, const int32_t *labels, int64_t n)
{
    int64_t correct = 0;
    for (int64_t at = 0; at < n; at += p->batch) {
        int64_t nb = n - at < p->batch ? n - at : p->batch;
        forward(p, x + at * p->dim, nb, p->logits);
        for (int64_t i = 0; i < nb; i++) {
            const float *z = p->logits + i * p->classes;
            int64_t best = 0;
            for (int64_t c = 1; c < p->classes; c++)
                if (z[c] > z[best])
                    best = c;
            correct += best == labels[at + i];
        }
    }
    return (double)correct / (double)n;
}

/* ---- entry point ------------------------------------------------------------------- */

static int alloc_probe(probe *p, double wd, int64_t n_train, int64_t n_test, float **xs,
                       float **ts, double **stats, int32_t **yb)
{
    byol__sgd_opts o = { 0.9, 0.0, wd, 1, 1 };
    size_t nw = (size_t)(p->classes * (p->dim + 1)), len_train, len_test;
    if (byol__mul_size((size_t)n_train, (size_t)p->dim, &len_train) ||
        byol__mul_size((size_t)n_test, (size_t)p->dim, &len_test))
        return BYOL_E_NOMEM;
    p->params = byol__calloc(nw, sizeof(float));
    p->grads = byol__calloc(nw, sizeof(float));
    p->xb = byol__malloc((size_t)(p->batch * p->dim) * sizeof(float));
    p->logits = byol__malloc((size_t)(p->batch * p->classes) * sizeof(float));
    p->order = byol__malloc((size_t)n_train * sizeof(int64_t));
    *xs = byol__malloc(len_train * sizeof(float));
    *ts = byol__malloc(len_test * sizeof(float));
    *stats = byol__malloc((size_t)(2 * p->dim) * sizeof(double));
    *yb = byol__malloc((size_t)p->batch * sizeof(int32_t));
    if (!p->params || !p->grads || !p->xb || !p->logits || !p->order || !*xs || !*ts ||
        !*stats || !*yb)
        return BYOL_E_NOMEM;
    return byol__sgd_create(&o, (int64_t)nw, &p->sgd);
}

static void free_probe(probe *p)
{
    byol__free(p->params);
    byol__free(p->grads);
    byol__free(p->xb);
    byol__free(p->logits);
    byol__free(p->order);
    byol__optim_destroy(p->sgd);
}

int byol_eval_linear_probe(const byol_config *cfg, const float *train_x,
                           const int32_t *train_labels, int64_t n_train, const float *test_x,
                           const int32_t *test_labels, int64_t n_test, int64_t dim,
                           double *accuracy)
{
    static const char fn[] = "byol_eval_linear_probe";
    int32_t classes;
    int rc = byol__eval_check(fn, train_x, train_labels, n_train, test_x, test_labels, n_test,
                              dim, accuracy, &classes);
    if (rc != BYOL_OK)
        return rc;
    byol__set_threads((int)byol__cfg_int(cfg, BYOL__K_THREADS));
    probe p = { .dim = dim, .classes = classes, .batch = byol__cfg_int(cfg, BYOL__K_EVAL_PROBE_BATCH) };
    float *xs = NULL, *ts = NULL;
    double *stats = NULL;
    int32_t *yb = NULL;
    if (alloc_probe(&p, byol__cfg_float(cfg, BYOL__K_EVAL_PROBE_WEIGHT_DECAY), n_train, n_test, &xs,
                    &ts, &stats, &yb) != BYOL_OK) {
        rc = byol__err(BYOL_E_NOMEM, "%s: out of memory for %lld + %lld rows of %lld", fn,
                       (long long)n_train, (long long)n_test, (long long)dim);
    } else {
        moments(train_x, n_train, dim, stats, stats + dim);
        standardise(train_x, n_train, dim, stats, stats + dim, xs);
        standardise(test_x, n_test, dim, stats, stats + dim, ts);
        rc = train(&p, cfg, xs, train_labels, n_train, yb);
        if (rc == BYOL_OK)
            *accuracy = accuracy_of(&p, ts, test_labels, n_test);
    }
    free_probe(&p);
    byol__free(xs);
    byol__free(ts);
    byol__free(stats);
    byol__free(yb);
    return rc;
}
