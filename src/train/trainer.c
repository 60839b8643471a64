/* byol_trainer: creation, the two-view step and its parts. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "train/loss.h"
#include "train/trainer.h"
#include "core/config.h"
#include "core/internal.h"
#include "nn/graph.h"

/* ---- creation ------------------------------------------------------------ */

static int make_head(const byol_config *cfg, int64_t in, int64_t hidden, int64_t out,
                     int64_t seed_offset, byol_net **net)
{
    byol_config *c;
    int rc = byol_config_copy(cfg, &c);
    if (rc != BYOL_OK)
        return rc;
    char s[256];
    snprintf(s, sizeof s, "net.arch=mlp net.mlp.layers=2 net.mlp.batchnorm=%d net.mlp.bias=hidden "
             "net.mlp.in=%lld net.mlp.hidden=%lld net.mlp.out=%lld",
             (int)byol__cfg_int(cfg, "byol.head_batchnorm"), (long long)in, (long long)hidden,
             (long long)out);
    rc = byol_config_parse(c, s);
    if (rc == BYOL_OK)
        rc = byol_config_set_int(c, "seed", (byol__cfg_int(cfg, "seed") + seed_offset) & ((1LL << 53) - 1));
    if (rc == BYOL_OK)
        rc = byol_net_create(c, net);
    byol_config_destroy(c);
    return rc;
}

static int make_encoders(byol_trainer *t, const byol_config *cfg, const byol_net *encoder)
{
    int independent = !strcmp(byol__cfg_str(cfg, "byol.target_init"), "independent");
    int rc = encoder ? byol__net_clone(encoder, &t->online[BYOL__ENC])
                     : byol_net_create(cfg, &t->online[BYOL__ENC]);
    if (rc == BYOL_OK)
        rc = byol__net_clone(t->online[BYOL__ENC], &t->target[BYOL__ENC]);
    if (rc == BYOL_OK && independent)
        byol__net_reinit(t->target[BYOL__ENC], (uint64_t)byol__cfg_int(cfg, "seed") + 1000003);
    int32_t ndim = 0;
    int64_t dims[3];
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
    int independent = !strcmp(byol__cfg_str(cfg, "byol.target_init"), "independent");
    int64_t ph = byol__cfg_int(cfg, "byol.proj_hidden"), qh = byol__cfg_int(cfg, "byol.pred_hidden");
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
        *total += nets[k]->nparams;
    *params = byol__calloc((size_t)*total + 1, sizeof(float));
    if (grads)
        *grads = byol__calloc((size_t)*total + 1, sizeof(float));
    if (!*params || (grads && !*grads))
        return byol__err(BYOL_E_NOMEM, "byol_trainer_create: out of memory for %lld parameters",
                         (long long)*total);
    int64_t off = 0;
    for (int k = 0; k < n; k++) {
        byol__net_use_buffers(nets[k], *params + off, grads ? *grads + off : NULL);
        off += nets[k]->nparams;
    }
    return BYOL_OK;
}

/* Activation arenas. A step runs the target's passes before the online
 * ones and nothing in an arena outlives its pass, so the target encoder
 * and projector share their online twins' arenas (owned by the trainer). */
static int make_arenas(byol_trainer *t)
{
    for (int k = 0; k < 2; k++) {
        int64_t a, b;
        int rc = byol__net_arena_floats(t->online[k], t->batch, &a);
        if (rc == BYOL_OK)
            rc = byol__net_arena_floats(t->target[k], t->batch, &b);
        if (rc != BYOL_OK)
            return rc;
        size_t bytes;
        if (byol__mul_size((size_t)(a > b ? a : b), sizeof(float), &bytes) == 0)
            t->arena[k] = byol__malloc(bytes);
        if (!t->arena[k])
            return byol__err(BYOL_E_NOMEM, "byol_trainer_create: cannot allocate %.1f MiB of "
                             "activations for batch %lld", (double)(a > b ? a : b) / 262144.0,
                             (long long)t->batch);
        rc = byol__net_plan_in(t->online[k], t->batch, t->arena[k]);
        if (rc == BYOL_OK)
            rc = byol__net_plan_in(t->target[k], t->batch, t->arena[k]);
        if (rc != BYOL_OK)
            return rc;
    }
    return byol_net_plan(t->online[BYOL__PRED], t->batch);
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
        base += t->online[p]->nparams;
    }
    t->nspans = k;
    return BYOL_OK;
}

static int make_optimizer(byol_trainer *t, const byol_config *cfg)
{
    const char *name = byol__cfg_str(cfg, "optim.name");
    double wd = byol__cfg_float(cfg, "optim.weight_decay"), m = byol__cfg_float(cfg, "optim.momentum");
    if (!strcmp(name, "sgd")) {
        byol__sgd_opts o = { m, 0, wd, (int)byol__cfg_int(cfg, "optim.nesterov") && m > 0, 1 };
        t->optim_kind = BYOL__SGD;
        return byol__sgd_create(&o, t->nparams, (byol__sgd **)&t->optim);
    }
    if (!strcmp(name, "adamw")) {
        byol__adamw_opts o = { byol__cfg_float(cfg, "optim.beta1"), byol__cfg_float(cfg, "optim.beta2"),
                               byol__cfg_float(cfg, "optim.eps"), wd, 1 };
        t->optim_kind = BYOL__ADAMW;
        return byol__adamw_create(&o, t->nparams, (byol__adamw **)&t->optim);
    }
    byol__lars_opts o = { byol__cfg_float(cfg, "optim.eta"), m, wd,
                          (int)byol__cfg_int(cfg, "optim.clip_lr") };
    t->optim_kind = BYOL__LARS;
    return byol__lars_create(&o, t->nparams, (byol__lars **)&t->optim);
}

/* Scratch: activations, gradients and the guard's snapshot of BN state. */
static int make_scratch(byol_trainer *t)
{
    int64_t nstate = 0, ncount = 0;
    byol_net *nets[5];
    byol__trainer_nets(t, nets, NULL);
    for (int k = 0; k < 5; k++) {
        nstate += nets[k]->nstate;
        ncount += nets[k]->nnodes;
    }
    t->work = byol__calloc((size_t)(t->batch * (3 * t->feat + 6 * t->proj_out)), sizeof(float));
    t->monitor = byol__calloc((size_t)(2 * t->proj_out), sizeof(double));
    t->snapshot = byol__calloc((size_t)nstate + 1, sizeof(float));
    t->counters = byol__calloc((size_t)ncount, sizeof(int64_t));
    if (!t->work || !t->monitor || !t->snapshot || !t->counters)
        return byol__err(BYOL_E_NOMEM, "byol_trainer_create: out of memory for batch %lld",
                         (long long)t->batch);
    return BYOL_OK;
}

static int build(byol_trainer *t, const byol_config *cfg, const byol_net *encoder)
{
    t->batch = byol__cfg_int(cfg, "train.batch_size");
    t->total_steps = byol__cfg_int(cfg, "train.total_steps");
    t->warmup_steps = byol__cfg_int(cfg, "train.warmup_steps");
    t->proj_out = byol__cfg_int(cfg, "byol.proj_out");
    t->base_lr = byol__cfg_float(cfg, "optim.lr");
    t->tau_base = byol__cfg_float(cfg, "ema.tau_base");
    t->simsiam = !strcmp(byol__cfg_str(cfg, "byol.mode"), "simsiam");
    int rc = make_encoders(t, cfg, encoder);
    if (rc == BYOL_OK)
        rc = make_heads(t, cfg);
    if (rc == BYOL_OK)
        rc = make_arenas(t);
    if (rc == BYOL_OK)
        rc = gather(t->online, BYOL__PARTS, &t->params, &t->grads, &t->nparams);
    if (rc == BYOL_OK)
        rc = gather(t->target, 2, &t->tparams, NULL, &t->ntarget);
    if (rc == BYOL_OK)
        rc = make_spans(t);
    if (rc == BYOL_OK)
        rc = make_optimizer(t, cfg);
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
    if (t->optim_kind == BYOL__SGD)
        byol__sgd_destroy(t->optim);
    else if (t->optim_kind == BYOL__ADAMW)
        byol__adamw_destroy(t->optim);
    else
        byol__lars_destroy(t->optim);
    byol__free(t->params);
    byol__free(t->grads);
    byol__free(t->tparams);
    byol__free(t->spans);
    byol__free(t->work);
    byol__free(t->monitor);
    byol__free(t->snapshot);
    byol__free(t->counters);
    byol_config_destroy(t->cfg);
    byol__free(t);
}

int byol__trainer_nets(byol_trainer *t, byol_net **nets, const char **prefixes)
{
    static const char *const names[5] = { "online.encoder.", "online.projector.",
                                          "online.predictor.", "target.encoder.",
                                          "target.projector." };
    byol_net *all[5] = { t->online[0], t->online[1], t->online[2], t->target[0], t->target[1] };
    for (int k = 0; k < 5; k++) {
        nets[k] = all[k];
        if (prefixes)
            prefixes[k] = names[k];
    }
    return 5;
}

void byol__trainer_optim_state(byol_trainer *t, byol__optim_state *st)
{
    if (t->optim_kind == BYOL__SGD)
        byol__sgd_state(t->optim, st);
    else if (t->optim_kind == BYOL__ADAMW)
        byol__adamw_state(t->optim, st);
    else
        byol__lars_state(t->optim, st);
}
