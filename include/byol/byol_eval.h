/**
 * @file byol_eval.h
 * @brief Evaluation of frozen embeddings: weighted k-NN and a linear probe.
 *
 * Both take embeddings as row-major float arrays ([n, dim], borrowed for
 * the call: the library copies what it changes) with integer labels in
 * 0 .. BYOL_EVAL_MAX_LABEL (the classes are 0 .. the largest label of
 * either set; the per-class arrays are that long), and return the
 * top-1 accuracy on the query (test) rows. They are deterministic: the same
 * inputs and settings give the same accuracy at any thread count.
 *
 * Typical use: embed a labelled training split and a test split with the
 * online encoder (byol_embed_dataset(), or byol_net_embed() on your own
 * batches), then call byol_eval_knn() and byol_eval_linear_probe().
 *
 * Settings (byol_config keys): eval.knn_k, eval.knn_temperature,
 * eval.probe_epochs, eval.probe_lr, eval.probe_batch,
 * eval.probe_weight_decay, seed, threads; eval.grid for
 * byol_embed_dataset().
 */
#ifndef BYOL_EVAL_H
#define BYOL_EVAL_H

#include <stdint.h>

#include "byol_common.h"
#include "byol_config.h"
#include "byol_data.h"
#include "byol_net.h"

BYOL_BEGIN_DECL

/** The largest label the evaluations take: 2^24 - 1 classes' worth of
 * per-class arrays (a k-NN vote, a probe's weights) is as far as they go. */
#define BYOL_EVAL_MAX_LABEL 16777215

/**
 * Weighted k-NN classification as in the BYOL benchmarks (lightly's
 * knn_predict; docs/DATA.md): bank and query rows are
 * L2-normalised (copies), each query's eval.knn_k most cosine-similar bank
 * rows vote for their labels with weight exp(similarity /
 * eval.knn_temperature), and the class with the largest total wins (ties:
 * the lower label). k above n_bank counts as n_bank.
 * @param cfg settings (eval.knn_k, eval.knn_temperature, threads),
 *        borrowed for the call (NULL: defaults).
 * @param bank, bank_labels n_bank rows of dim floats and their labels,
 *        borrowed for the call.
 * @param n_bank number of bank rows, >= 1.
 * @param query, query_labels n_query rows and their true labels, borrowed
 *        for the call.
 * @param n_query number of query rows, >= 1.
 * @param dim floats per row, >= 1.
 * @param accuracy receives the fraction of queries whose prediction is right.
 * @return BYOL_OK, BYOL_E_INVALID_ARG (NULL pointer, a count below 1, a
 *         label outside 0 .. BYOL_EVAL_MAX_LABEL; the message names the
 *         row), BYOL_E_NOMEM.
 */
BYOL_API int byol_eval_knn(const byol_config *cfg, const float *bank, const int32_t *bank_labels,
                           int64_t n_bank, const float *query, const int32_t *query_labels,
                           int64_t n_query, int64_t dim, double *accuracy);

/**
 * Linear probe: multinomial logistic regression (a Linear layer with bias,
 * softmax cross-entropy) on frozen embeddings. The features are first
 * standardised with the training rows' per-dimension mean and standard
 * deviation; then eval.probe_epochs epochs of SGD with Nesterov momentum
 * 0.9 (libbyol's optimizer), mini-batches of eval.probe_batch in an order
 * drawn from seed, learning rate eval.probe_lr with a cosine decay to 0,
 * weight decay eval.probe_weight_decay on the weights only.
 * @param cfg settings (eval.probe_*, seed, threads), borrowed for the call
 *        (NULL: defaults).
 * @param train, train_labels n_train rows of dim floats and their labels,
 *        borrowed for the call.
 * @param n_train number of training rows, >= 1.
 * @param test, test_labels n_test rows and their true labels, borrowed for
 *        the call.
 * @param n_test number of test rows, >= 1.
 * @param dim floats per row, >= 1.
 * @param accuracy receives the fraction of test rows classified right.
 * @return as byol_eval_knn().
 */
BYOL_API int byol_eval_linear_probe(const byol_config *cfg, const float *train,
                                    const int32_t *train_labels, int64_t n_train,
                                    const float *test, const int32_t *test_labels, int64_t n_test,
                                    int64_t dim, double *accuracy);

/**
 * Embeds every image of a dataset with an encoder: the evaluation transform
 * of the augmenter built from cfg (centre crop, normalisation; no
 * randomness), batches of train.batch_size through byol_net_embed()
 * (inference mode), loader.workers threads decoding ahead.
 *
 * eval.grid chooses the row: 1 (the default) the encoder's output; G > 1
 * the [C, H, W] map that the encoder's final global average pool reads,
 * average-pooled on a G x G grid with the windows of PyTorch's
 * adaptive_avg_pool2d (row window i = [floor(i*H/G), ceil((i+1)*H/G)),
 * columns alike), C*G*G floats in the order of
 * adaptive_avg_pool2d(map, G).flatten(1). A grid keeps where on the image
 * a feature fired, which the global pool discards (cnn-small's 128x7x7 map
 * on a 2x2 grid: 512 floats).
 * @param encoder borrowed for the call; its input must match augment.size
 *        and data.channels, its output must be a vector (with eval.grid > 1,
 *        a global average pool of a map at least G x G). Planned for
 *        train.batch_size if it never was; its mode and weights are kept.
 * @param cfg settings (data.*, augment.*, loader.*, train.batch_size,
 *        eval.grid), borrowed for the call (NULL: defaults).
 * @param ds the dataset, borrowed for the call.
 * @param embeddings receives [count, dim] floats, owned by the caller (byol_free()).
 * @param labels receives count labels (-1 when unlabeled), owned by the caller
 *        (byol_free()); may be NULL if not wanted.
 * @param count receives the number of rows (the dataset's size).
 * @param dim receives the number of floats per row: the output's size, or
 *        C*G*G with eval.grid = G > 1.
 * @return BYOL_OK, BYOL_E_INVALID_ARG, BYOL_E_SHAPE (encoder and images disagree;
 *         eval.grid > 1 with an output that is not a global average pool, or
 *         a map smaller than G x G: the message names eval.grid and the shape),
 *         errors of byol_loader_next() (a bad image), BYOL_E_NOMEM. On failure the
 *         outputs are NULL.
 */
BYOL_API int byol_embed_dataset(byol_net *encoder, const byol_config *cfg,
                                const byol_dataset *ds, float **embeddings, int32_t **labels,
                                int64_t *count, int64_t *dim);

BYOL_END_DECL

#endif
