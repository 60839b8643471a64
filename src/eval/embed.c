/* byol_embed_dataset: a dataset through the evaluation transform and an
 * encoder, batch by batch from an evaluation loader. */
#include <string.h>

#include "core/config.h"
#include "core/internal.h"
#include "eval/eval.h"
#include "nn/nn.h"

/* *dim: floats per row, the output's, or with eval.grid = grid > 1 the grid's. */
static int check_shapes(byol_net *enc, const byol_config *cfg, int32_t grid, int64_t *dim)
{
    int64_t in[3], out[3];
    int32_t ndim = 0;
    byol_net_input_dims(enc, in);
    byol_net_output_dims(enc, &ndim, out);
    if (grid > 1) {
        int rc = byol__nn_grid_dim(enc, grid, dim);
        if (rc != BYOL_OK)
            return rc;
    } else if (ndim != 1) {
        return byol__err(BYOL_E_SHAPE, "byol_embed_dataset: the encoder's output is a map; it "
                         "must end in a vector (a global average pool)");
    } else {
        *dim = out[0];
    }
    int64_t size = byol__cfg_int(cfg, BYOL__K_AUGMENT_SIZE), ch = byol__cfg_int(cfg, BYOL__K_DATA_CHANNELS);
    if (in[0] != ch || in[1] != size || in[2] != size)
        return byol__err(BYOL_E_SHAPE, "byol_embed_dataset: the encoder takes [%lld,%lld,%lld] "
                         "but data.channels and augment.size give [%lld,%lld,%lld]",
                         (long long)in[0], (long long)in[1], (long long)in[2], (long long)ch,
                         (long long)size, (long long)size);
    return BYOL_OK;
}

/* Every batch of the loader's one pass into emb [n, dim] and lab [n]. */
static int run(byol_net *enc, byol_loader *ld, int32_t grid, int64_t dim, float *emb,
               int32_t *lab)
{
    byol_batch b = { .struct_size = sizeof b };
    int64_t at = 0;
    int rc;
    while ((rc = byol_loader_next(ld, &b)) == BYOL_OK) {
        byol_tensor y = { sizeof y, 2, { b.count, dim, 0, 0 }, emb + at * dim };
        rc = grid > 1 ? byol__nn_embed_grid(enc, b.view1.data, b.count, grid, y.data)
                      : byol_net_embed(enc, &b.view1, &y);
        if (rc != BYOL_OK)
            return rc;
        if (lab)
            memcpy(lab + at, b.labels, (size_t)b.count * sizeof *lab);
        at += b.count;
    }
    return rc == BYOL_DONE ? BYOL_OK : rc;
}

int byol_embed_dataset(byol_net *encoder, const byol_config *cfg, const byol_dataset *ds,
                       float **embeddings, int32_t **labels, int64_t *count, int64_t *dim)
{
    if (!encoder || !ds || !embeddings || !count || !dim)
        return byol__err(BYOL_E_INVALID_ARG, "byol_embed_dataset: a NULL argument");
    *embeddings = NULL;
    if (labels)
        *labels = NULL;
    int64_t n = byol_dataset_size(ds), d = 0;
    int32_t grid = (int32_t)byol__cfg_int(cfg, BYOL__K_EVAL_GRID);
    int rc = check_shapes(encoder, cfg, grid, &d);
    if (rc == BYOL_OK && byol__nn_planned_batch(encoder) == 0) /* never planned: plan for the batches */
        rc = byol_net_plan(encoder, byol__cfg_int(cfg, BYOL__K_TRAIN_BATCH_SIZE));
    byol_loader *ld = NULL;
    if (rc == BYOL_OK)
        rc = byol_loader_create(cfg, ds, BYOL_LOADER_EVAL, &ld);
    float *emb = NULL;
    int32_t *lab = NULL;
    size_t len = 0;
    if (rc == BYOL_OK && byol__mul_size((size_t)n, (size_t)d, &len) == 0) {
        emb = byol__malloc(len * sizeof(float));
        lab = labels ? byol__malloc((size_t)n * sizeof(int32_t)) : NULL;
        if (!emb || (labels && !lab))
            rc = byol__err(BYOL_E_NOMEM, "byol_embed_dataset: out of memory for %lld x %lld "
                           "floats", (long long)n, (long long)d);
    }
    if (rc == BYOL_OK)
        rc = run(encoder, ld, grid, d, emb, lab);
    byol_loader_destroy(ld);
    if (rc != BYOL_OK) {
        byol__free(emb);
        byol__free(lab);
        return rc;
    }
    *embeddings = emb;
    if (labels)
        *labels = lab;
    *count = n;
    *dim = d;
    return BYOL_OK;
}
