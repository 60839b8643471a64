/* byol_eval_knn and byol_eval_linear_probe: argument checks and set-up. */
#include <math.h>
#include <string.h>

#include "core/config.h"
#include "core/internal.h"
#include "eval/eval.h"

static int check_labels(const char *fn, const char *what, const int32_t *labels, int64_t n,
                        int32_t *max)
{
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] > BYOL_EVAL_MAX_LABEL)
            return byol__err(BYOL_E_INVALID_ARG, "%s: %s label %lld is %d; labels must be in "
                             "0..%d", fn, what, (long long)i, (int)labels[i],
                             BYOL_EVAL_MAX_LABEL);
        if (labels[i] > *max)
            *max = labels[i];
    }
    return BYOL_OK;
}

int byol__eval_check(const char *fn, const float *train, const int32_t *train_labels,
                     int64_t n_train, const float *test, const int32_t *test_labels,
                     int64_t n_test, int64_t dim, const double *accuracy, int32_t *classes)
{
    if (!train || !train_labels || !test || !test_labels || !accuracy)
        return byol__err(BYOL_E_INVALID_ARG, "%s: a NULL array or accuracy pointer", fn);
    if (n_train < 1 || n_test < 1 || dim < 1)
        return byol__err(BYOL_E_INVALID_ARG, "%s: %lld training rows, %lld test rows of %lld "
                         "dimensions; each must be at least 1", fn, (long long)n_train,
                         (long long)n_test, (long long)dim);
    int32_t max = 0;
    int rc = check_labels(fn, "training", train_labels, n_train, &max);
    if (rc == BYOL_OK)
        rc = check_labels(fn, "test", test_labels, n_test, &max);
    *classes = max + 1;
    return rc;
}

/* A copy of x [n, dim] with every row scaled to unit L2 norm (a zero row stays zero). */
static float *normalised(const float *x, int64_t n, int64_t dim)
{
    size_t len;
    if (byol__mul_size((size_t)n, (size_t)dim, &len))
        return NULL;
    float *y = byol__malloc(len * sizeof(float));
    if (!y)
        return NULL;
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t d = 0; d < dim; d++)
            s += (double)x[i * dim + d] * x[i * dim + d];
        float scale = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (int64_t d = 0; d < dim; d++)
            y[i * dim + d] = x[i * dim + d] * scale;
    }
    return y;
}

int byol_eval_knn(const byol_config *cfg, const float *bank, const int32_t *bank_labels,
                  int64_t n_bank, const float *query, const int32_t *query_labels,
                  int64_t n_query, int64_t dim, double *accuracy)
{
    static const char fn[] = "byol_eval_knn";
    byol__knn kn = { n_bank, n_query, dim, byol__cfg_int(cfg, BYOL__K_EVAL_KNN_K), 0,
                     byol__cfg_float(cfg, BYOL__K_EVAL_KNN_TEMPERATURE), bank_labels, query_labels };
    int rc = byol__eval_check(fn, bank, bank_labels, n_bank, query, query_labels, n_query, dim,
                              accuracy, &kn.classes);
    if (rc != BYOL_OK)
        return rc;
    if (kn.k > n_bank)
        kn.k = n_bank;
    byol__set_threads((int)byol__cfg_int(cfg, BYOL__K_THREADS));
    float *b = normalised(bank, n_bank, dim), *q = normalised(query, n_query, dim);
    if (!b || !q)
        rc = byol__err(BYOL_E_NOMEM, "%s: out of memory for %lld + %lld rows of %lld", fn,
                       (long long)n_bank, (long long)n_query, (long long)dim);
    else
        rc = byol__knn_run(&kn, b, q, accuracy);
    byol__free(b);
    byol__free(q);
    return rc;
}
