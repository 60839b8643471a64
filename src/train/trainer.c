/* byol_trainer: creation, the two-view step and its parts. */
#include <string.h>

#include "core/config.h"
#include "core/internal.h"
#include "nn/nn.h"
#include "train/trainer.h"

/* ---- creation ------------------------------------------------------------ */

/* A projector or predictor: Linear -> [BatchNorm] -> ReLU -> Linear, biases
 * on the hidden Linear only (the reference's heads). */
static int make_head(const byol_config *cfg, int64_t in, int64_t hidden, int64_t out,
                     int64_t seed_offset, byol_net **net)
{
    byol__mlp_spec spec = { in, hidden, out, 2, (int32_t)byol__cfg_int(cfg, BYOL__K_BYOL_HEAD_BATCHNORM),
                            BYOL__MLP_BIAS_HIDDEN };
    uint64_t seed = (uint64_t)(byol__cfg_int(cfg, BYOL__K_SEED) + seed_offset) & ((1ULL << 53) - 1);
    return byol__nn_mlp_create(cfg, &spec, seed, net);
}

static int make_encoders(byol_trainer *t, const byol_config *cfg, const byol_net *encoder)
{
    int independent = !strcmp(byol__cfg_str(cfg, BYOL__K_BYOL_TARGET_INIT), "independent");
    int rc = encoder ? byol__nn_clone(encoder, &t->online[BYOL__ENC])
                     : byol_net_create(cfg, &t->online[BYOL__ENC]);
    if (rc == BYOL_OK)
        rc = byol__nn_clone(t->online[BYOL__ENC], &t->target[BYOL__ENC]);
    if (rc == BYOL_OK && independent)
        byol__nn_reinit(t->target[BYOL__ENC], (uint64_t)byol__cfg_int(cfg, BYOL__K_SEED) + 1000003);
    int32_t ndim = 0;
    int64_t dims[3];
    if (rc == BYOL_OK)
        rc = byol_net_input_dims(t->online[BYOL__ENC], t->in_dims);
    if (rc == BYOL_OK)
        rc = byol_net_output_dims(t->online[BYOL__ENC], &ndim, dims);
    if (rc == BYOL_OK && ndim != 1)
        return byol__err(BYOL_E_SHAPE, "byol_trainer_create: the encoder's output is a map; "
                         "it must end in a vector (add a global average pool)");
    t->feat = dims[0];
    return rc;
}

static int make_heads(byol_trainer *t, const byol_config *cfg)
{
    int independent = !strcmp(byol__cfg_str(cfg, BYOL__K_BYOL_TARGET_INIT), "independent");
    int64_t ph = byol__cfg_int(cfg, BYOL__K_BYOL_PROJ_HIDDEN), qh = byol__cfg_int(cfg, BYOL__K_BYOL_PRED_HIDDEN);
    int rc = make_head(cfg, t->feat, ph, t->proj_out, 1, &t->online[BYOL__PROJ]);
    if (rc == BYOL_OK)
        rc = make_head(cfg, t->feat, ph, t->proj_out, independent ? 3 : 1, &t->target[BYOL__PROJ]);
    if (rc == BYOL_OK)
        rc = make_head(cfg, t->proj_out, qh, t->proj_out, 2, &t->online[BYOL__PRED]);
    return rc;
}

/* Moves nets' parameters into one contiguous buffer, and their gradients
 * into another if grads is not NULL (else they are dropped). */
static int gather(byol_net **nets, int n, float **params, float **grads, int64_t *total)
{
    *total = 0;
    for (int k = 0; k < n; k++)
        *total += byol__nn_param_count(nets[k]);
    *params = byol__calloc((size_t)*total + 1, sizeof(float));
    if (grads)
        *grads = byol__calloc((size_t)*total + 1, sizeof(float));
    if (!*params || (grads && !*grads))
        return byol__err(BYOL_E_NOMEM, "byol_trainer_create: out of memory for %lld parameters",
                         (long long)*total);
    int64_t off = 0;
    for (int k = 0; k < n; k++) {
        byol__nn_use_buffers(nets[k], *params + off, grads ? *grads + off : NULL);
        off += byol__nn_param_count(nets[k]);
    }
    return BYOL_OK;
}

/* Everything sized by the images of a step, n (the global batch, or a
 * rank's slice: byol_trainer_set_comm): the activation arenas, view 2 in
 * nn's layout (view 1 goes to the encoder's input buffer), and the target
 * projections and loss gradient (work). A step runs the target's passes
 * before the online ones and nothing in an arena outlives its pass, so the
 * target encoder and projector share their online twins' arenas (owned by
 * the trainer); the predictor owns its own. All or nothing: every layout
 * and buffer is made before any net or pointer moves to them. */
static int plan_batch(byol_trainer *t, int64_t n, const char *fn)
{
    byol_net *nets[5] = { t->online[0], t->target[0], t->online[1], t->target[1],
                          t->online[BYOL__PRED] };
    byol__plan *plans[5] = { 0 };
    float *bufs[5] = { 0 }; /* arenas 0-2, view2, work */
    int64_t floats[5] = { 0 };
    int rc = BYOL_OK;
    for (int k = 0; k < 5 && rc == BYOL_OK; k++)
        rc = byol__nn_plan_prepare(nets[k], n, &plans[k], &floats[k]);
    const int64_t f[5] = { floats[0] > floats[1] ? floats[0] : floats[1],
                           floats[2] > floats[3] ? floats[2] : floats[3], floats[4],
                           n * byol__nn_input_size(t->online[BYOL__ENC]), 3 * n * t->proj_out };
    for (int a = 0; a < 5 && rc == BYOL_OK; a++) {
        size_t bytes;
        if (byol__mul_size((size_t)f[a], sizeof(float), &bytes) == 0)
            bufs[a] = byol__calloc(bytes, 1);
        if (!bufs[a])
            rc = byol__err(BYOL_E_NOMEM, "%s: cannot allocate %.1f MiB for batch %lld", fn,
                           (double)f[a] / 262144.0, (long long)n);
    }
    if (rc != BYOL_OK) {
        for (int k = 0; k < 5; k++) {
            byol__nn_plan_discard(plans[k]);
            byol__free(bufs[k]);
        }
        return rc;
    }
    for (int k = 0; k < 5; k++)
        byol__nn_plan_apply(nets[k], plans[k], bufs[k / 2], k == 4);
    float **mine[4] = { &t->arena[0], &t->arena[1], &t->view2, &t->work };
    for (int k = 0; k < 4; k++) {
        byol__free(*mine[k]);
        *mine[k] = bufs[k < 2 ? k : k + 1];
    }
    t->local = n;
    return BYOL_OK;
}

/* One span per online parameter tensor, offsets into the contiguous buffer. */
static int make_spans(byol_trainer *t)
{
    int64_t total = 0, k = 0, base = 0;
    for (int p = 0; p < BYOL__PARTS; p++)
        total += byol_net_tensor_count(t->online[p]);
    t->spans = byol__calloc((size_t)total, sizeof *t->spans);
    if (!t->spans)
        return byol__err(BYOL_E_NOMEM, "byol_trainer_create: out of memory");
    for (int p = 0; p < BYOL__PARTS; p++) {
        for (int64_t i = 0; i < byol_net_tensor_count(t->online[p]); i++) {
            byol_tensor_info info = { .struct_size = sizeof info };
            byol_net_tensor_info(t->online[p], i, &info);
            if (info.buffer != BYOL_BUFFER_PARAMS)
                continue;
            t->spans[k].offset = base + info.offset;
            t->spans[k].numel = info.numel;
            t->spans[k].flags = info.flags;
            k++;
        }
        base += byol__nn_param_count(t->online[p]);
    }
    t->nspans = k;
    return BYOL_OK;
}

/* Scratch of any batch: the monitor's sums and the guard's snapshot of BN
 * state. */
static int make_scratch(byol_trainer *t)
{
    byol_net *nets[BYOL__NETS];
    size_t state = 0;
    byol__trainer_nets(t, nets, NULL);
    for (int k = 0; k < BYOL__NETS; k++)
        state += byol__nn_state_bytes(nets[k]);
    t->monitor = byol__calloc((size_t)(4 * t->proj_out + 3), sizeof(double));
    t->snapshot = byol__calloc(state, 1);
    if (!t->monitor || !t->snapshot)
        return byol__err(BYOL_E_NOMEM, "byol_trainer_create: out of memory");
    return BYOL_OK;
}

/* A warmup of W >= K steps would end the run before the learning rate
 * reaches its peak (50 warmup steps in a 30-step run peak at 29/50 of it).
 * The warmup is cut to K - 1 steps, the longest whose schedule still
 * reaches the peak (at the last step), and the caller is told. */
static int64_t warmup_within(int64_t warmup, int64_t total)
{
    if (warmup < total)
        return warmup;
    byol__log(BYOL_LOG_WARN, "train.warmup_steps %lld >= train.total_steps %lld: the warmup is "
              "cut to %lld steps so that the learning rate reaches its peak; set "
              "train.warmup_steps below train.total_steps for a cosine decay after it",
              (long long)warmup, (long long)total, (long long)(total - 1));
    return total - 1;
}

static int build(byol_trainer *t, const byol_config *cfg, const byol_net *encoder)
{
    t->batch = byol__cfg_int(cfg, BYOL__K_TRAIN_BATCH_SIZE);
    t->total_steps = byol__cfg_int(cfg, BYOL__K_TRAIN_TOTAL_STEPS);
    t->warmup_steps = warmup_within(byol__cfg_int(cfg, BYOL__K_TRAIN_WARMUP_STEPS),
                                    t->total_steps);
    t->proj_out = byol__cfg_int(cfg, BYOL__K_BYOL_PROJ_OUT);
    t->tau_base = byol__cfg_float(cfg, BYOL__K_EMA_TAU_BASE);
    t->simsiam = !strcmp(byol__cfg_str(cfg, BYOL__K_BYOL_MODE), "simsiam");
    t->comm = (byol_comm){ .struct_size = sizeof t->comm, .size = 1 };
    int rc = make_encoders(t, cfg, encoder);
    if (rc == BYOL_OK)
        rc = make_heads(t, cfg);
    if (rc == BYOL_OK)
        rc = plan_batch(t, t->batch, "byol_trainer_create");
    if (rc == BYOL_OK)
        rc = gather(t->online, BYOL__PARTS, &t->params, &t->grads, &t->nparams);
    if (rc == BYOL_OK)
        rc = gather(t->target, 2, &t->tparams, NULL, &t->ntarget);
    if (rc == BYOL_OK)
        rc = make_spans(t);
    if (rc == BYOL_OK)
        rc = byol__optim_create(cfg, t->nparams, &t->optim);
    if (rc == BYOL_OK)
        t->base_lr = byol__optim_base_lr(t->optim);
    if (rc == BYOL_OK)
        rc = make_scratch(t);
    return rc;
}

int byol_trainer_create(const byol_config *cfg, const byol_net *encoder, byol_trainer **out)
{
    if (!out)
        return byol__err(BYOL_E_INVALID_ARG, "byol_trainer_create: out is NULL");
    *out = NULL;
    byol_trainer *t = byol__calloc(1, sizeof *t);
    if (!t)
        return byol__err(BYOL_E_NOMEM, "byol_trainer_create: out of memory");
    int rc = cfg ? byol_config_copy(cfg, &t->cfg) : byol_config_create(&t->cfg);
    if (rc == BYOL_OK)
        rc = build(t, t->cfg, encoder);
    if (rc != BYOL_OK) {
        byol_trainer_destroy(t);
        return rc;
    }
    *out = t;
    return BYOL_OK;
}

void byol_trainer_destroy(byol_trainer *t)
{
    if (!t)
        return;
    for (int k = 0; k < BYOL__PARTS; k++)
        byol_net_destroy(t->online[k]);
    byol_net_destroy(t->target[0]);
    byol_net_destroy(t->target[1]);
    byol__free(t->arena[0]);
    byol__free(t->arena[1]);
    byol__optim_destroy(t->optim);
    byol__free(t->params);
    byol__free(t->grads);
    byol__free(t->tparams);
    byol__free(t->spans);
    byol__free(t->view2);
    byol__free(t->work);
    byol__free(t->monitor);
    byol__free(t->snapshot);
    byol_config_destroy(t->cfg);
    byol__free(t);
}

/* A communicator the trainer can use: *c gets a copy of comm, or one rank
 * alone for NULL or size 1 (its callbacks are then never called). */
static int check_comm(const byol_comm *comm, byol_comm *c, const char *fn)
{
    *c = (byol_comm){ .struct_size = sizeof *c, .size = 1 };
    if (!comm)
        return BYOL_OK;
    if (comm->struct_size < sizeof *comm)
        return byol__err(BYOL_E_ABI, "%s: comm struct_size %u < %zu", fn,
                         (unsigned)comm->struct_size, sizeof *comm);
    if (comm->size < 1 || comm->rank < 0 || comm->rank >= comm->size)
        return byol__err(BYOL_E_INVALID_ARG, "%s: rank %d is not in [0, size %d)", fn,
                         (int)comm->rank, (int)comm->size);
    if (comm->size > 1 && (!comm->allreduce_f32 || !comm->allreduce_f64))
        return byol__err(BYOL_E_INVALID_ARG, "%s: a communicator of %d ranks needs both "
                         "allreduce_f32 and allreduce_f64", fn, (int)comm->size);
    if (comm->size > 1)
        *c = *comm;
    c->struct_size = sizeof *c;
    return BYOL_OK;
}

int byol_trainer_set_comm(byol_trainer *t, const byol_comm *comm)
{
    static const char fn[] = "byol_trainer_set_comm";
    if (!t)
        return byol__err(BYOL_E_INVALID_ARG, "%s: trainer is NULL", fn);
    byol_comm c;
    int rc = check_comm(comm, &c, fn);
    if (rc != BYOL_OK)
        return rc;
    const int sync = c.size > 1 && byol__cfg_int(t->cfg, BYOL__K_BYOL_SYNC_BN);
    const int64_t local = t->batch / c.size;
    if (t->batch % c.size)
        return byol__err(BYOL_E_SHAPE, "%s: train.batch_size %lld (the global batch) is not a "
                         "multiple of the %d ranks", fn, (long long)t->batch, (int)c.size);
    if (!sync && local < 2)
        return byol__err(BYOL_E_SHAPE, "%s: with byol.sync_bn=0 each rank's BatchNorm needs 2 "
                         "images; train.batch_size %lld over %d ranks leaves %lld", fn,
                         (long long)t->batch, (int)c.size, (long long)local);
    /* Activations for this rank's slice only: a rank of 64 holds 1/64 of
     * the global batch's. */
    rc = local == t->local ? BYOL_OK : plan_batch(t, local, fn);
    if (rc != BYOL_OK)
        return rc;
    t->comm = c;
    byol_net *nets[BYOL__NETS];
    byol__trainer_nets(t, nets, NULL);
    for (int k = 0; k < BYOL__NETS; k++) {
        byol__nn_set_comm(nets[k], sync ? &t->comm : NULL);
        byol__nn_hold_cancel(nets[k], c.size > 1);
    }
    return BYOL_OK;
}

void byol__trainer_nets(const byol_trainer *t, byol_net **nets, const char **prefixes)
{
    static const char *const names[BYOL__NETS] = { "online.encoder.", "online.projector.",
                                                   "online.predictor.", "target.encoder.",
                                                   "target.projector." };
    byol_net *const all[BYOL__NETS] = { t->online[0], t->online[1], t->online[2],
                                        t->target[0], t->target[1] };
    for (int k = 0; k < BYOL__NETS; k++) {
        nets[k] = all[k];
        if (prefixes)
            prefixes[k] = names[k];
    }
}
