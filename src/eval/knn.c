/* Weighted k-NN on L2-normalised embeddings: the BYOL benchmarks' protocol
 * (lightly's knn_predict; docs/DATA.md, "Evaluation").
 *
 * Similarities of a block of queries against the whole bank are one GEMM;
 * each query then keeps its k best bank rows in a small heap. The votes
 * are summed in a fixed order (similarity, then bank index), so the
 * prediction never depends on the thread count. */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "core/config.h"
#include "core/internal.h"
#include "eval/eval.h"
#include "linalg/linalg.h"

#define QUERY_BLOCK 256

typedef struct hit {
    float sim;
    int64_t idx;
} hit;

/* a ranks below b: lower similarity, or equal and a later bank row */
static int worse(const hit *a, const hit *b)
{
    return a->sim < b->sim || (a->sim == b->sim && a->idx > b->idx);
}

/* Min-heap on `worse`: heap[0] is the weakest of the k kept. */
static void sift_down(hit *h, int64_t n, int64_t i)
{
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(&h[l], &h[m]))
            m = l;
        if (r < n && worse(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        hit t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* sims [n_bank] of one query -> its k best in h, strongest first */
static int64_t top_k(const float *sims, int64_t n_bank, int64_t k, hit *h)
{
    int64_t n = 0;
    for (int64_t j = 0; j < n_bank; j++) {
        hit c = { sims[j], j };
        if (n < k) {
            h[n++] = c;
            if (n == k)
                for (int64_t i = k / 2; i-- > 0;)
                    sift_down(h, k, i);
        } else if (worse(&h[0], &c)) {
            h[0] = c;
            sift_down(h, k, 0);
        }
    }
    if (n < k)
        for (int64_t i = n / 2; i-- > 0;)
            sift_down(h, n, i);
    /* heap sort: repeatedly move the weakest to the end */
    for (int64_t end = n - 1; end > 0; end--) {
        hit t = h[0];
        h[0] = h[end];
        h[end] = t;
        sift_down(h, end, 0);
    }
    return n;
}

/* The class with the largest sum of exp(sim / t) over the neighbours. */
static int32_t vote(const hit *h, int64_t n, const int32_t *labels, int32_t classes, double t,
                    double *score)
{
    memset(score, 0, (size_t)classes * sizeof *score);
    for (int64_t i = 0; i < n; i++)
        score[labels[h[i].idx]] += exp((double)h[i].sim / t);
    int32_t best = 0;
    for (int32_t c = 1; c < classes; c++)
        if (score[c] > score[best])
            best = c;
    return best;
}

/* Queries [q0, q0 + nq) with sims [nq, n_bank]; each thread's heap and
 * scores are its own, its count of correct predictions is added at the end. */
typedef struct hits_args {
    const byol__knn *kn;
    const float *sims;
    int64_t q0, nq;
    hit *heaps;
    double *scores;
    _Atomic int64_t correct;
} hits_args;

static void hits_task(void *arg, int thread, int threads)
{
    hits_args *a = arg;
    const byol__knn *kn = a->kn;
    hit *h = a->heaps + (int64_t)thread * kn->k;
    double *score = a->scores + (int64_t)thread * kn->classes;
    int64_t b, e, correct = 0;
    byol__share(a->nq, thread, threads, &b, &e);
    for (int64_t q = b; q < e; q++) {
        int64_t n = top_k(a->sims + q * kn->n_bank, kn->n_bank, kn->k, h);
        correct += vote(h, n, kn->bank_labels, kn->classes, kn->t, score) ==
                   kn->query_labels[a->q0 + q];
    }
    atomic_fetch_add(&a->correct, correct);
}

/* Correct predictions for queries [q0, q0 + nq): sims [nq, n_bank]. */
static int64_t block_hits(const byol__knn *kn, const float *sims, int64_t q0, int64_t nq,
                          hit *heaps, double *scores)
{
    hits_args a = { kn, sims, q0, nq, heaps, scores, 0 };
    byol__run(byol__num_threads(), hits_task, &a);
    return atomic_load(&a.correct);
}

int byol__knn_run(const byol__knn *kn, const float *bank, const float *query, double *accuracy)
{
    int64_t qb = kn->n_query < QUERY_BLOCK ? kn->n_query : QUERY_BLOCK;
    int nt = byol__num_threads();
    size_t sims_n;
    float *sims = NULL;
    if (byol__mul_size((size_t)qb, (size_t)kn->n_bank, &sims_n) == 0)
        sims = byol__malloc(sims_n * sizeof(float));
    hit *heaps = byol__malloc((size_t)(nt * kn->k) * sizeof(hit));
    double *scores = byol__malloc((size_t)(nt * kn->classes) * sizeof(double));
    int rc = BYOL_OK;
    if (!sims || !heaps || !scores) {
        rc = byol__err(BYOL_E_NOMEM, "byol_eval_knn: out of memory for %lld x %lld similarities",
                       (long long)qb, (long long)kn->n_bank);
    } else {
        int64_t correct = 0;
        for (int64_t q0 = 0; q0 < kn->n_query; q0 += qb) {
            int64_t nq = kn->n_query - q0 < qb ? kn->n_query - q0 : qb;
            /* sims [nq, n_bank] = query [nq, dim] bank^T */
            byol__gemm(0, 1, nq, kn->n_bank, kn->dim, 1.0f, query + q0 * kn->dim, kn->dim, bank,
                       kn->dim, 0.0f, sims, kn->n_bank);
            correct += block_hits(kn, sims, q0, nq, heaps, scores);
        }
        *accuracy = (double)correct / (double)kn->n_query;
    }
    byol__free(sims);
    byol__free(heaps);
    byol__free(scores);
    return rc;
}
