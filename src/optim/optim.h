/* Optimizers (LARS, SGD, AdamW) behind one handle, and the BYOL schedules
 * (learning rate, EMA tau).
 *
 * The handle: byol__optim_create(cfg, count, &o) reads optim.name, looks the
 * name up in the table of optimizers (optim.c) and lets that row read its own
 * optim.* keys, so a caller (the trainer) names no optimizer and no optim.*
 * key: it steps, checkpoints and frees the handle through byol__optim_step,
 * byol__optim_get_state and byol__optim_destroy, and schedules
 * byol__optim_base_lr(o) (optim.lr) with byol__scaled_lr and byol__lr_at.
 * Code that wants one optimizer with explicit options (the linear probe, the
 * tests) makes the same handle with byol__lars_create and the like.
 *
 * The table: one row (byol__optim_ops) per optimizer holds only what differs
 * between optimizers: its name, its options (size and check), the names of its
 * moment buffers, how it reads its optim.* keys, and the update of one tensor.
 * Everything else is shared (optim.c): allocating the handle and its zeroed
 * moment buffers, validating a step, looping over the spans, counting steps,
 * the checkpoint view of the state, freeing.
 *
 * Adding an optimizer:
 *   1. a file src/optim/<name>.c with its options struct, their check, its
 *      per-tensor update, a from_config that reads its optim.* keys (with
 *      byol__cfg_*) into the options and calls byol__optim_new, and its row
 *      `const byol__optim_ops byol__<name>_ops`;
 *   2. that row declared and listed in the table in optim.c;
 *   3. <name> among optim.name's choices, and any new keys, in
 *      src/core/config_keys.def.
 * Every optimizer obeys optim.weight_decay and optim.wd_exclude: its options
 * hold a weight_decay and an exclude_bias_norm (see byol__span_excluded),
 * which from_config reads with byol__optim_wd_exclude.
 * Nothing in the trainer. Declare a byol__<name>_create here only if code
 * outside the table makes the optimizer directly.
 *
 * Layout: a network keeps every trainable parameter in ONE flat float buffer and
 * its gradients in another of the same layout. An optimizer state covers one such
 * buffer of `count` floats (one state per buffer: e.g. one per byol_net) and keeps
 * its moment buffers in the same layout, so moment[i] belongs to params[i].
 * A step is told which tensors to update by a table of spans, one per parameter
 * tensor, built by the caller from the net's tensor table (BYOL_BUFFER_PARAMS
 * entries only). Elements not covered by a span are neither read nor written.
 *
 * Determinism: every reduction (the LARS norms) is split into blocks whose bounds
 * depend only on the tensor's length, and the block partials are added in block
 * order, so the result is bitwise the same for any thread count. Element-wise
 * updates are split the same way.
 *
 * Failure: a step validates everything first and cannot fail afterwards, so a
 * failing step changes nothing (neither parameters, moments nor the step count).
 * Steps do not check gradients for NaN/Inf; the caller checks the loss or the
 * gradients before stepping.
 */
#ifndef BYOL_OPTIM_H
#define BYOL_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "byol/byol_config.h"
#include "byol/byol_net.h"
#include "core/internal.h"

/* ---- parameter spans --------------------------------------------------- */

/* One parameter tensor inside the flat buffer: elements [offset, offset+numel).
 * flags are BYOL_TENSOR_* from byol_tensor_info. Spans passed to a step must lie
 * inside the buffer, in ascending order and without overlap (the order of the
 * net's tensor table already is); empty spans are allowed and skipped. */
typedef struct byol__param_span {
    int64_t offset;
    int64_t numel;
    uint32_t flags;
} byol__param_span;

/* Whether an optimizer whose exclude_bias_norm option is `exclude` leaves
 * tensor s out of weight decay (LARS: and out of the trust ratio). exclude 1
 * leaves out biases and BatchNorm gamma/beta, as DM's exclude_bias_and_norm
 * (these are exactly the 1-d parameters of libbyol's layers, solo-learn's
 * test for the same filter); exclude 0 leaves out nothing. */
static inline int byol__span_excluded(const byol__param_span *s, int exclude)
{
    return exclude && (s->flags & (BYOL_TENSOR_BIAS | BYOL_TENSOR_NORM)) != 0;
}

/* ---- blocking shared by the kernels ----------------------------------- */

/* Elements per work block: a multiple of BLOCK chosen from the tensor length
 * alone (never from the thread count), with at most MAX_BLOCKS blocks so the
 * LARS norm partials fit on the stack. */
#define BYOL__OPTIM_BLOCK 4096
#define BYOL__OPTIM_MAX_BLOCKS 256

static inline int64_t byol__optim_block_len(int64_t n)
{
    int64_t units = (n + BYOL__OPTIM_BLOCK - 1) / BYOL__OPTIM_BLOCK;
    int64_t per = (units + BYOL__OPTIM_MAX_BLOCKS - 1) / BYOL__OPTIM_MAX_BLOCKS;
    return (per > 0 ? per : 1) * BYOL__OPTIM_BLOCK;
}

/* Runs fn(ctx, b, i0, i1) over the blocks b = 0, 1, ... of [0, n), n >= 1,
 * in parallel (byol__num_threads()) when n >= BYOL__PAR_MIN. Blocks come from
 * byol__optim_block_len(n), so which elements share a block, and the block
 * index b, never depend on the thread count. */
typedef void (*byol__optim_block_fn)(void *ctx, int64_t b, int64_t i0, int64_t i1);
void byol__optim_for_blocks(int64_t n, byol__optim_block_fn fn, void *ctx);

/* ---- state exposure for checkpoints ----------------------------------- */

/* Borrowed view of an optimizer's mutable state. A checkpoint saves, and on
 * load overwrites, buf[0..nbuf) (count floats each, same layout as the params)
 * and *steps. name[i] is a stable key for buf[i]. Valid until destroy. */
#define BYOL__OPTIM_MAX_BUFS 2
typedef struct byol__optim_state {
    const char *optimizer;   /* its optim.name ("lars", ...) */
    int32_t nbuf;
    int64_t count;
    float *buf[BYOL__OPTIM_MAX_BUFS];
    const char *name[BYOL__OPTIM_MAX_BUFS];
    int64_t *steps;   /* steps taken so far */
} byol__optim_state;

/* ---- the handle ------------------------------------------------------- */

typedef struct byol__optim byol__optim;

/* The optimizer optim.name names, with the options its optim.* keys give, for
 * a params buffer of count >= 0 floats; cfg NULL reads the defaults. Returns
 * BYOL_OK, BYOL_E_INVALID_ARG, BYOL_E_RANGE (an option), BYOL_E_KEY (a name
 * the table lacks) or BYOL_E_NOMEM; *out is NULL on failure. */
int byol__optim_create(const byol_config *cfg, int64_t count, byol__optim **out);
/* optim.lr as configured, before byol__scaled_lr and the schedule; 0 for a
 * handle made by byol__lars_create and the like. */
double byol__optim_base_lr(const byol__optim *o);
/* One step over the spans with learning rate lr (validated first: see
 * Failure above). Returns BYOL_OK, BYOL_E_INVALID_ARG, BYOL_E_RANGE or
 * BYOL_E_NONFINITE (lr). */
int byol__optim_step(byol__optim *o, const byol__param_span *spans, int64_t nspans,
                     float *params, const float *grads, double lr);
/* The checkpoint view of o's state (named get_state: byol__optim_state is
 * the view's type). */
void byol__optim_get_state(byol__optim *o, byol__optim_state *out);
/* The optim.name of the optimizer in the table whose state has a buffer
 * called buf ("exp_avg" -> "adamw"), or NULL: tells a checkpoint's
 * optimizer state of another optimizer from a stray tensor. */
const char *byol__optim_buffer_owner(const char *buf);
/* NULL is accepted. */
void byol__optim_destroy(byol__optim *o);

/* ---- writing an optimizer (its own file and a row of the table) -------- */

/* One row of the table: what makes an optimizer differ from the others. */
typedef struct byol__optim_ops {
    const char *name;        /* its optim.name; prefixes its error messages */
    size_t opts_size;        /* its options struct, which the handle keeps */
    const char *bufs[BYOL__OPTIM_MAX_BUFS];   /* checkpoint keys of its moments */
    /* BYOL_OK, or BYOL_E_RANGE with a message (written so NaN fails) */
    int (*check)(const void *opts);
    /* Reads its optim.* keys into its options; then byol__optim_new. */
    int (*from_config)(const byol_config *cfg, int64_t count, byol__optim **out);
    /* Updates one non-empty span of a validated step; o->steps steps were
     * taken before this one. */
    void (*tensor)(byol__optim *o, const byol__param_span *sp, float *params,
                   const float *grads, double lr);
} byol__optim_ops;

struct byol__optim {
    const byol__optim_ops *ops;
    double base_lr;          /* optim.lr, or 0 (see byol__optim_base_lr) */
    int64_t count;           /* floats in the params buffer and in each moment buffer */
    int64_t steps;           /* steps taken so far */
    int32_t nbuf;            /* moment buffers in use: buf[0..nbuf), the rest NULL */
    float *buf[BYOL__OPTIM_MAX_BUFS];   /* zeroed at creation; the params' layout */
    max_align_t opts[];      /* the row's options struct (opts_size bytes) */
};

/* The handle of optimizer ops with a copy of *opts and nbuf zeroed moment
 * buffers of count floats. Checks, in this order: out, the options
 * (ops->check), count >= 0. Returns BYOL_OK, BYOL_E_INVALID_ARG, the check's
 * BYOL_E_RANGE or BYOL_E_NOMEM; *out is NULL on failure. */
int byol__optim_new(const byol__optim_ops *ops, const void *opts, int32_t nbuf,
                    int64_t count, byol__optim **out);

/* Option checks for a row's check(), so that each optimizer lists its options
 * in order: each returns rc as it is when rc is already an error (the first
 * bad option is reported), else BYOL_OK or BYOL_E_RANGE with "<who>: <what>
 * <v> must be ...". Written so that NaN fails. */
int byol__optim_need_unit(int rc, const char *who, const char *what, double v);   /* [0, 1] */
int byol__optim_need_nonneg(int rc, const char *who, const char *what, double v); /* finite, >= 0 */
int byol__optim_need_flag(int rc, const char *who, const char *what, int v);      /* 0 or 1 */

/* optim.wd_exclude as an exclude_bias_norm option: 0 for none, 1 for
 * bias_norm, and for auto the optimizer's own choice auto_exclude (LARS 1, as
 * the reference; SGD and AdamW 0, as torch.optim). */
int byol__optim_wd_exclude(const byol_config *cfg, int auto_exclude);

/* The options a row's tensor() reads (its own struct, as copied by new). */
static inline const void *byol__optim_opts(const byol__optim *o)
{
    return o->opts;
}

/* ---- LARS (DeepMind BYOL) ---------------------------------------------- */

/* Per tensor p with gradient g (DM optimizers.py: add_weight_decay ->
 * scale_by_lars -> scale(-lr)):
 *   u = g + wd*p                  (not excluded; coupled L2)
 *   r = eta*|p|/|u| if |p| > 0 and |u| > 0 else 1; u = r*u   (not excluded)
 *   mu = momentum*mu + u          (mu starts at 0)
 *   p -= lr*mu
 * Excluded tensors (bias, norm, when exclude_bias_norm) take u = g and r = 1:
 * plain momentum SGD. One filter decides both, as DM's one filter does (and
 * lightly's and solo-learn's); exclude_bias_norm 0 gives every tensor the
 * decay and the trust ratio.
 * clip_lr (solo-learn, off in DM): a computed r becomes min(r/lr, 1), i.e. the
 * per-tensor step is min(r, lr)*u; lr = 0 gives 1; the zero-norm guard's r = 1
 * is left alone (solo-learn does not scale such tensors either). */
typedef struct byol__lars_opts {
    double eta;            /* trust coefficient, >= 0 */
    double momentum;       /* [0, 1] */
    double weight_decay;   /* >= 0 */
    int clip_lr;           /* 0 (DM) or 1 (solo-learn) */
    int exclude_bias_norm; /* 1 (DM): bias / norm tensors get neither decay nor
                              trust ratio; 0: every tensor gets both */
} byol__lars_opts;

/* DM's headline setting: eta 1e-3, momentum 0.9, wd 1.5e-6 (1000 epochs; DM
 * uses 1e-6 for 40/100/300 epochs), clip_lr 0, biases and norms excluded. */
byol__lars_opts byol__lars_defaults(void);
/* A LARS handle: opts NULL = defaults, count as in byol__optim_new (whose
 * status codes it returns). State: nbuf 1, "momentum". */
int byol__lars_create(const byol__lars_opts *opts, int64_t count, byol__optim **out);
/* The LARS norms of one tensor p, g [n], n >= 1: *pp = sum p^2 and
 * *uu = sum (g + wd*p)^2, in double, blocked by length only (exposed so the
 * tests can check the bits across thread counts). */
void byol__lars_norms(int64_t n, const float *p, const float *g, double wd,
                      double *pp, double *uu);

/* ---- SGD (torch.optim.SGD) --------------------------------------------- */

/* Per tensor, PyTorch's rule:
 *   d = g + wd*p                  (wd = 0 for excluded tensors if exclude_bias_norm)
 *   momentum > 0: buf = d on the FIRST step (no dampening), afterwards
 *                 buf = momentum*buf + (1 - dampening)*d;
 *                 d = nesterov ? d + momentum*buf : buf
 *   p -= lr*d
 * With dampening 0 the first-step rule equals starting from buf = 0. "First
 * step" is steps == 0 of this state (all tensors step together). */
typedef struct byol__sgd_opts {
    double momentum;        /* [0, 1]; 0 = no buffer */
    double dampening;       /* [0, 1] */
    double weight_decay;    /* >= 0 */
    int nesterov;           /* needs momentum > 0 and dampening 0 (as PyTorch) */
    int exclude_bias_norm;  /* 1: no decay for bias / norm tensors; 0: decay all */
} byol__sgd_opts;

/* lightly's CIFAR-10 benchmark: momentum 0.9, dampening 0, wd 5e-4 on all
 * parameters, no Nesterov. */
byol__sgd_opts byol__sgd_defaults(void);
/* As byol__lars_create. State: nbuf 1, "momentum_buffer", or 0 when momentum
 * is 0. */
int byol__sgd_create(const byol__sgd_opts *opts, int64_t count, byol__optim **out);

/* ---- AdamW (torch.optim.AdamW, amsgrad off) ---------------------------- */

/* Per tensor, with t = steps + 1 (the step being taken):
 *   p *= 1 - lr*wd                (decoupled; wd = 0 for excluded tensors if
 *                                  exclude_bias_norm)
 *   m = beta1*m + (1 - beta1)*g;  v = beta2*v + (1 - beta2)*g^2
 *   p -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 */
typedef struct byol__adamw_opts {
    double beta1, beta2;    /* [0, 1) */
    double eps;             /* > 0 (0 would give 0/0 for a zero gradient) */
    double weight_decay;    /* >= 0 */
    int exclude_bias_norm;  /* 1: no decay for bias / norm tensors; 0: decay all */
} byol__adamw_opts;

/* PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, wd 1e-2 on all parameters. */
byol__adamw_opts byol__adamw_defaults(void);
/* As byol__lars_create. State: nbuf 2, "exp_avg", "exp_avg_sq". */
int byol__adamw_create(const byol__adamw_opts *opts, int64_t count, byol__optim **out);

/* ---- schedules (DM schedules.py), pure functions ----------------------- */

/* Learning rate of step k (0-based, the step about to be taken) of K total
 * with W warmup steps: peak*k/W for k < W, then
 * peak*0.5*(1 + cos(pi*min(k-W, K-W)/(K-W))): lr(0) = 0 when W > 0, lr(W) = peak,
 * lr(k >= K) = 0 exactly. W = 0: no warmup. K <= W: warmup, then 0.
 * k < 0 counts as 0. */
double byol__lr_at(int64_t k, int64_t total, int64_t warmup, double peak_lr);
/* EMA decay of step k: 1 - (1 - tau_base)*(cos(pi*min(k,K)/K) + 1)/2;
 * tau(0) = tau_base, tau(k >= K) = 1. K <= 0: 1 (nothing to schedule). */
double byol__tau_at(int64_t k, int64_t total, double tau_base);
/* DM's linear scaling: base_lr * batch / 256. */
double byol__scaled_lr(double base_lr, int64_t batch);
/* Optimizer steps in `epochs` epochs of n examples at batch size `batch`:
 * floor(epochs*n / batch) (DM: max_steps and warmup_steps alike). With
 * gradient accumulation, batch is the effective batch per optimizer step.
 * Returns BYOL_OK, or BYOL_E_RANGE (negative epochs/n, batch < 1, overflow). */
int byol__steps_for_epochs(int64_t epochs, int64_t n, int64_t batch, int64_t *out);

#endif
