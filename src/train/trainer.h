/* Internal structure of byol_trainer (byol_trainer.h), shared with the
 * checkpoint code and white-box tests. */
#ifndef BYOL_TRAIN_TRAINER_H
#define BYOL_TRAIN_TRAINER_H

#include "byol/byol_trainer.h"
#include "optim/optim.h"

enum { BYOL__ENC, BYOL__PROJ, BYOL__PRED, BYOL__PARTS };
/* Nets in a trainer: the three online parts and the target's two. */
#define BYOL__NETS 5

struct byol_trainer {
    byol_config *cfg;                  /* a copy, saved in checkpoints */
    byol_net *online[BYOL__PARTS], *target[2];
    /* online parameters and gradients, [encoder | projector | predictor];
     * target parameters, [encoder | projector] */
    float *params, *grads, *tparams;
    float *arena[2];                   /* encoder's and projector's, shared by online and target */
    int64_t nparams, ntarget;
    int32_t simsiam;                   /* byol.mode=simsiam: no target, stop-gradient */
    byol__optim *optim;
    byol__param_span *spans;
    int64_t nspans;
    int64_t step, total_steps, warmup_steps, batch, feat, proj_out;
    int64_t in_dims[3];                /* the encoder's input [C, H, W] */
    double base_lr, tau_base;          /* optim.lr (from the optimizer), ema.tau_base */
    float *view2;                      /* view 2 in nn's layout, [batch, C*H*W] (step.c) */
    float *work;                       /* target projections and the loss gradient */
    /* [collapse sums of view 1 (2 proj_out) | of view 2 | loss_12, loss_21 sums, n]:
     * what a step sums over the ranks besides the gradients (step.c) */
    double *monitor;
    byol_comm comm;                    /* size 1 when alone (byol_trainer_set_comm) */
    int64_t local;                     /* images per rank and step: batch / comm.size */
    unsigned char *snapshot;           /* BN state of all nets, for the guard */
    byol_grad_hook hook;
    void *hook_user;
};

/* The BYOL__NETS networks in checkpoint order with their name prefixes. */
void byol__trainer_nets(const byol_trainer *t, byol_net **nets, const char **prefixes);

#endif
