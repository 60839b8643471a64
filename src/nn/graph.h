/* Internal structure of byol_net and byol_builder: a topologically ordered
 * list of nodes (node 0 is the input), flat parameter / gradient / state
 * buffers, and an activation arena planned per batch size.
 *
 * Private to src/nn: other modules use the functions of nn/nn.h. */
#ifndef BYOL_NN_GRAPH_H
#define BYOL_NN_GRAPH_H

#include "byol/byol_net.h"
#include "nn/kernels.h"
#include "nn/nn.h"

typedef enum byol__op {
    BYOL__OP_INPUT,
    BYOL__OP_CONV,
    BYOL__OP_BN,
    BYOL__OP_RELU,
    BYOL__OP_MAXPOOL,
    BYOL__OP_AVGPOOL,
    BYOL__OP_LINEAR,
    BYOL__OP_ADD,
    BYOL__OP_FLATTEN
} byol__op;

typedef struct byol__node {
    byol__op op;
    int32_t src[2];
    int32_t rank;            /* 4: a map (h, w, c) per sample; 2: a vector (c) */
    int64_t c, h, w;         /* per-sample output shape */
    int32_t k, stride, pad;  /* conv / pool geometry */
    int32_t has_bias;
    char *name;              /* parameter prefix, NULL for ops without parameters */
    int64_t w_off, b_off;    /* params: weight & bias (BN: gamma & beta); -1 if none */
    int64_t mean_off, var_off; /* state: BN running mean & variance; -1 if none */
    int32_t counter;         /* BN: index of its num_batches_tracked in net->counters */
    int32_t consumers;
    /* set by plan */
    float *out, *grad;       /* activation and its gradient, [batch, per-sample] */
    float *wp;               /* packed conv weights */
    float *mean, *rstd;      /* BN batch statistics saved for backward */
    int64_t count;           /* BN: rows the statistics were taken over (all ranks') */
    int32_t *argmax;         /* max-pool winners */
} byol__node;

/* One named tensor of the state_dict. */
typedef struct byol__tensor {
    char *name;
    int32_t buffer;          /* BYOL_BUFFER_PARAMS or BYOL_BUFFER_STATE */
    int32_t ndim;
    uint32_t flags;
    int64_t shape[4];
    int64_t offset, numel;
    int32_t node;
} byol__tensor;

/* Settings a net keeps from its config. */
typedef struct byol__net_opts {
    uint64_t seed;
    int32_t threads;
    int32_t haiku_init;
    int32_t bn_unbiased;
    float bn_eps, bn_momentum;
    int32_t conv_winograd;   /* nn.conv_algo resolved for this CPU: 0, or the tile 2 or 4 */
    int32_t bf16;            /* nn.precision=bf16 on a CPU with AVX512_BF16 */
} byol__net_opts;

struct byol_builder {
    byol__net_opts opts;
    int32_t nnodes, cap;
    byol__node *nodes;
};

struct byol_net {
    byol__net_opts opts;
    int32_t nnodes, output;
    byol__node *nodes;
    int64_t ntensors;
    byol__tensor *tensors;
    /* state: nstate floats (running statistics), then, 8-byte aligned,
     * ncounters int64 (num_batches_tracked): one block, so the whole BN
     * state is saved and restored with one copy (byol__nn_state_save) */
    float *params, *grads, *state;
    int64_t *counters;
    int64_t nparams, nstate;
    int32_t ncounters;
    int32_t borrowed;        /* params/grads live in a caller's buffers (byol__nn_use_buffers) */
    int32_t training;
    /* arena */
    int64_t max_batch;
    void *arena;
    int32_t arena_borrowed;  /* the arena is a caller's (byol__nn_plan_in) */
    /* The arena's input buffer and output gradient. The internal passes
     * (nn.h) point node 0's activation at the caller's input and the output
     * node's gradient at the caller's dy instead; the public ones point them
     * back here and copy (the trainer chains nets by pointer, users copy). */
    float *in_slot, *dy_slot;
    float *scratch;
    double *bn_sums;         /* 4 * max BN channels + 1 (run.c) */
    uint8_t *touched;        /* per node: gradient written in this backward */
    int64_t fwd_batch;       /* batch of the last training forward, 0 if none */
    /* Synchronized BatchNorm (byol__nn_set_comm): comm sums BN statistics
     * over the ranks in the internal passes (nn.h), which a trainer runs on
     * every rank together; the public passes never sync, so a rank alone may
     * use a trainer's encoder. sync is the comm of the last training
     * forward, which its backward pass follows. */
    const byol_comm *comm, *sync;
    byol_cancel_fn cancel;
    void *cancel_user;
    /* Set for a rank of a data-parallel trainer: the passes do not poll
     * cancel (one rank leaving mid-pass would leave the others waiting in a
     * collective); the trainer polls it at the ranks' agreement instead. */
    int32_t cancel_held;
};

/* Where the counters start in the state block, in bytes. */
size_t byol__net_counters_offset(const byol_net *net);

/* Geometry of conv node n at this batch, with the net's algorithm. */
byol__conv_geom byol__net_conv_geom(const byol_net *net, const byol__node *n, int64_t batch);

/* Options a net keeps, read from a config (NULL = defaults). */
void byol__net_opts_from(byol__net_opts *o, const byol_config *cfg);

/* Builder internals shared with the presets. */
#define BYOL__MAX_ZERO_GAMMA 64
int byol__builder_init(byol_builder *b, const byol_config *cfg, int64_t c, int64_t h,
                       int64_t w);
void byol__builder_free(byol_builder *b);
/* Finishes b into a net; the BN nodes listed in zero_gamma start with
 * gamma = 0 (zero-initialised residual branches). */
int byol__builder_finish(byol_builder *b, int32_t output, const int32_t *zero_gamma,
                         int32_t n_zero_gamma, byol_net **out);
/* Builds the preset named by cfg's net.arch into a fresh builder b and
 * returns its output node and the BN nodes that zero_init_residual names. */
int byol__preset_build(const byol_config *cfg, byol_builder *b, int32_t *output,
                       int32_t zero_gamma[BYOL__MAX_ZERO_GAMMA], int32_t *n_zero_gamma);

/* The inference pass of byol_net_embed over batch samples of x (the
 * public NCHW layout; finite values checked, errors named after fn), in
 * chunks of the planned batch: after each chunk of nb samples, emit copies
 * what it wants from the activations into y, the chunk's rows of d floats.
 * Errors: BYOL_E_BAD_STATE (never planned), BYOL_E_NONFINITE, BYOL_E_CANCELLED. */
typedef void (*byol__net_emit)(const byol_net *net, int64_t nb, void *arg, float *y);
int byol__net_embed_each(byol_net *net, const float *x, int64_t batch, int64_t d,
                         byol__net_emit emit, void *arg, float *y, const char *fn);

/* Floats per sample of a node's output. */
static inline int64_t byol__node_size(const byol__node *n) { return n->c * n->h * n->w; }

/* May ReLU node i overwrite its input (nothing else reads it)? */
int byol__relu_in_place(const byol_net *net, int32_t i);
/* Is node i a ReLU fused into node i-1, a BatchNorm or residual add whose
 * output it overwrites (and not the net's output)? Then that node's forward pass clamps at 0 and the
 * ReLU's is skipped; after a BatchNorm, the ReLU's backward pass is done
 * inside BatchNorm's (run.c). */
int byol__relu_fused(const byol_net *net, int32_t i);

#endif
