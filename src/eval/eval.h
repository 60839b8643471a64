/* Internals of the evaluation module: checked inputs shared by k-NN and
 * the linear probe. */
#ifndef BYOL_EVAL_EVAL_H
#define BYOL_EVAL_EVAL_H

#include "byol/byol_eval.h"

/* One evaluation problem, its arguments checked. */
typedef struct byol__knn {
    int64_t n_bank, n_query, dim, k;
    int32_t classes;          /* 1 + the largest label */
    double t;
    const int32_t *bank_labels, *query_labels;
} byol__knn;

/* bank [n_bank, dim] and query [n_query, dim], both L2-normalised. */
int byol__knn_run(const byol__knn *kn, const float *bank, const float *query, double *accuracy);

/* Checks the arguments every evaluation takes; sets *classes. */
int byol__eval_check(const char *fn, const float *train, const int32_t *train_labels,
                     int64_t n_train, const float *test, const int32_t *test_labels,
                     int64_t n_test, int64_t dim, const double *accuracy, int32_t *classes);

#endif
