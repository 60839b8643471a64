/* The network module as the rest of the library sees it: what the trainer
 * and the evaluation need from a byol_net beyond the public API, without
 * its internals (graph.h, private to src/nn).
 *
 * The passes here skip the public API's checks and copies. Their caller has
 * validated its inputs once (shapes, finiteness) and hands over data in the
 * internal layout (NHWC; [N, C] for vectors), so nets chain by pointer: the
 * output of one is the input of the next, and the input gradient a backward
 * pass returns is the next backward's dy. Pointers a pass returns live in
 * the net's arena until the next pass of any net planned into that arena,
 * or the next plan. Inputs and dy are only read, and must stay as they are
 * until the backward pass (its first layer's gradient reads the input). */
#ifndef BYOL_NN_NN_H
#define BYOL_NN_NN_H

#include <stddef.h>
#include <stdint.h>

#include "byol/byol_net.h"
#include "byol/byol_trainer.h"

/* io's safetensors types (io/safetensors.h), for the state_dict calls. */
typedef struct byol__st_file byol__st_file;
typedef struct byol__st_list byol__st_list;
typedef struct byol__st_tensor byol__st_tensor;

/* ---- creation ------------------------------------------------------------ */

/* A multi-layer perceptron: Linear [-> BatchNorm] -> ReLU ... -> Linear. */
typedef enum byol__mlp_bias {
    BYOL__MLP_BIAS_HIDDEN,   /* every Linear but the last (the reference's heads) */
    BYOL__MLP_BIAS_ALL,
    BYOL__MLP_BIAS_NONE,
    BYOL__MLP_BIAS_LAST
} byol__mlp_bias;

typedef struct byol__mlp_spec {
    int64_t in, hidden, out;
    int32_t layers;          /* Linear layers, >= 1 */
    int32_t batchnorm;       /* BatchNorm after each hidden Linear */
    byol__mlp_bias bias;
} byol__mlp_spec;

/* An MLP net initialised from seed; cfg gives the other settings of a net
 * (net.init, net.bn_*, threads). Errors: BYOL_E_NOMEM. */
int byol__nn_mlp_create(const byol_config *cfg, const byol__mlp_spec *spec, uint64_t seed,
                        byol_net **out);
/* An independent copy of src: architecture, parameters, BN state and
 * counters (not the plan: the copy must be planned). */
int byol__nn_clone(const byol_net *src, byol_net **out);
/* Initialises every parameter and statistic again from another seed. */
void byol__nn_reinit(byol_net *net, uint64_t seed);

/* The numerics modes the net runs with, as resolved for this CPU
 * ("nn.conv_algo=winograd nn.precision=fp32"), into buf of n bytes:
 * the algorithm choices, which checkpoints record. The bits also depend on
 * what they do not name: the CPU's kernels (AVX-512 or portable) and the
 * BLAS provider. */
void byol__nn_modes(const byol_net *net, char *buf, size_t n);

/* ---- buffers ---------------------------------------------------------------- */

int64_t byol__nn_param_count(const byol_net *net);
/* Moves the net's parameters and gradients into caller-owned arrays of
 * byol__nn_param_count floats each (values copied), so a trainer keeps
 * several nets in one contiguous buffer. The net no longer frees them.
 * grads may be NULL for a net that is never trained (its gradients are
 * dropped). */
void byol__nn_use_buffers(byol_net *net, float *params, float *grads);

/* ---- planning ------------------------------------------------------------------ */

/* Planning in two phases, so that a caller re-planning several nets can do
 * it all or nothing: prepare lays a net out for max_batch (*floats: the
 * arena it needs) and changes nothing; apply, which cannot fail, points the
 * net into an arena of at least that size, owned by the net if `own`, else
 * by the caller, who frees it after the net (nets whose passes never
 * overlap in time may share one); discard drops an unapplied plan. */
typedef struct byol__plan byol__plan;
int byol__nn_plan_prepare(byol_net *net, int64_t max_batch, byol__plan **out, int64_t *floats);
void byol__nn_plan_apply(byol_net *net, byol__plan *p, float *arena, int own);
void byol__nn_plan_discard(byol__plan *p);
/* The batch the net is planned for, 0 if it was never planned. */
int64_t byol__nn_planned_batch(const byol_net *net);
/* The arena's input buffer: planned-batch samples in nn's layout, which
 * the passes here never touch, so a caller may stage an input in it
 * (byol_net_forward() and byol_net_embed() overwrite it). */
float *byol__nn_input_buffer(byol_net *net);

/* ---- passes ------------------------------------------------------------------- */

/* Floats per sample of the input; whether it is an image map [C, H, W]
 * (else a vector); whether byol_net_set_training() left the net in
 * training mode. */
int64_t byol__nn_input_size(const byol_net *net);
int byol__nn_input_is_map(const byol_net *net);
int byol__nn_training(const byol_net *net);
/* x [batch, C, H, W] (the public layout) -> y [batch, ...] in the internal
 * layout the passes take. */
void byol__nn_input_from_nchw(const byol_net *net, int64_t batch, const float *x, float *y);
/* Training-mode forward pass over batch <= the planned batch samples of x
 * (nn's layout). *y receives the output. Errors: BYOL_E_CANCELLED, BYOL_E_COMM. */
int byol__nn_forward(byol_net *net, const float *x, int64_t batch, const float **y);
/* Backward pass of the last byol__nn_forward from dy (nn's layout of the
 * output), adding into the parameter gradients.
 * With dx non-NULL, *dx receives the input gradient. Errors:
 * BYOL_E_CANCELLED, BYOL_E_COMM (the gradients are partial). */
int byol__nn_backward(byol_net *net, const float *dy, const float **dx);

/* Synchronized BatchNorm: the training passes below (not the public
 * byol_net_forward/backward) sum each BatchNorm layer's per-channel sums
 * over the ranks with comm->allreduce_f64 (comm borrowed until replaced;
 * NULL: this process's batch alone), so every rank must run them together.
 * A failed sum fails the pass with BYOL_E_COMM; the running statistics of
 * earlier layers have moved by then (the trainer restores them). */
void byol__nn_set_comm(byol_net *net, const byol_comm *comm);
/* hold: the passes stop polling the cancel callback (byol_net_set_cancel),
 * which the caller polls with byol__nn_cancel_requested() where every rank
 * can learn the outcome. */
void byol__nn_hold_cancel(byol_net *net, int hold);
int byol__nn_cancel_requested(const byol_net *net);

/* ---- eval.grid: the map before the final global average pool -------------------- */

/* Floats per sample of the grid embedding, C * grid * grid, when the net's
 * output is a global average pool of a [C, H, W] map with H, W >= grid >= 1.
 * Errors: BYOL_E_SHAPE naming eval.grid and the output or the map. */
int byol__nn_grid_dim(const byol_net *net, int32_t grid, int64_t *dim);
/* byol_net_embed's inference pass over batch samples of x (the public NCHW
 * layout); the map its final average pool reads is pooled as torch's
 * adaptive_avg_pool2d(map, grid).flatten(1) into y [batch, C * grid * grid].
 * Errors: those of byol__nn_grid_dim(), BYOL_E_BAD_STATE (never planned),
 * BYOL_E_NONFINITE, BYOL_E_CANCELLED. */
int byol__nn_embed_grid(byol_net *net, const float *x, int64_t batch, int32_t grid, float *y);

/* ---- BatchNorm state: running statistics and counters --------------------------- */

size_t byol__nn_state_bytes(const byol_net *net);
void byol__nn_state_save(const byol_net *net, void *buf);
void byol__nn_state_restore(byol_net *net, const void *buf);

/* ---- state_dict entries ---------------------------------------------------------- */

/* Appends the net's state_dict (parameters, running statistics, counters)
 * to l as "<prefix><name>", pointing at the net's buffers. */
int byol__nn_entries(const byol_net *net, const char *prefix, byol__st_list *l);
/* Checks that f holds every entry of the net under prefix (dtype, shape and,
 * for F32 entries, finite values) and, with copy != 0, copies them in
 * without checking again; *matched counts the entries. Errors:
 * BYOL_E_FORMAT naming the file and the entry. */
int byol__nn_read_entries(byol_net *net, const byol__st_file *f, const char *prefix, int copy,
                          int64_t *matched);
/* Does the net have a state_dict entry of this name (no prefix)? */
int byol__nn_has_entry(const byol_net *net, const char *name);
/* BYOL_OK when the F32 tensor e of f holds finite values only, else
 * BYOL_E_FORMAT naming the file, the tensor and the first bad index. */
int byol__nn_check_finite(const byol__st_file *f, const byol__st_tensor *e);

#endif
