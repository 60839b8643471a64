/**
 * @file byol_trainer.h
 * @brief byol_trainer: the whole BYOL step, and the same step in parts.
 *
 * A byol_trainer owns the online network (encoder, projector, predictor),
 * the target network (encoder, projector), the optimizer state and the
 * schedules. byol_trainer_step() does one step exactly as the reference
 * (DeepMind's BYOL) does it:
 *
 *   for each view v in (view1, view2), as separate forward passes:
 *     target:  z'_v = g_xi(f_xi(v))                (training mode, no gradient)
 *     online:  p_v  = q(g(f(v)))
 *   loss = mean_i [ l(p1_i, z'2_i) + l(p2_i, z'1_i) ],  l(a, b) = 2 - 2 cos(a, b)
 *   gradients into the online network only; optimizer update with lr(k);
 *   target <- tau(k) target + (1 - tau(k)) online   (parameters, not BN statistics)
 *
 * with lr(k) a linear warmup from 0 then a cosine to 0 at K, scaled by
 * batch/256, and tau(k) = 1 - (1 - tau_base)(cos(pi k / K) + 1)/2.
 *
 * Settings come from the config (keys train.*, optim.*, ema.*, byol.*,
 * net.*; presets "imagenet", "cifar10", "fashion-mnist"). byol.mode=simsiam
 * drops the moving average: the online projection of the other view, under a
 * stop-gradient, is the target (SimSiam, Chen & He 2021); the target network
 * is then unused.
 *
 * Memory: the online parameters (encoder, projector, predictor, in that
 * order) are one contiguous buffer, their gradients another, so an
 * optimizer step or a gradient all-reduce across processes is one call
 * over one array (byol_trainer_buffer()).
 *
 * A trainer is used by one thread at a time.
 */
#ifndef BYOL_TRAINER_H
#define BYOL_TRAINER_H

#include "byol_common.h"
#include "byol_config.h"
#include "byol_net.h"

BYOL_BEGIN_DECL

/** Opaque trainer handle. */
typedef struct byol_trainer byol_trainer;

/** Figures of one step (or of one byol_trainer_accumulate() call). */
typedef struct byol_step_stats {
    uint32_t struct_size;  /**< set to sizeof(byol_step_stats) before the call */
    uint32_t reserved;     /**< set to 0; not written */
    int64_t step;          /**< 0-based index k of the step */
    double loss;           /**< batch mean of l(p1,z'2) + l(p2,z'1), in [0, 8] */
    double loss_12;        /**< batch mean of l(p1, z'2) */
    double loss_21;        /**< batch mean of l(p2, z'1) */
    double lr;             /**< learning rate used by the update */
    double tau;            /**< EMA decay used for the target (0 in SimSiam mode) */
    double grad_norm;      /**< L2 norm of the whole online gradient before the update */
    double collapse_std;   /**< mean over dimensions of the batch standard deviation of
                                the l2-normalised online projections: about 1/sqrt(d)
                                when healthy, near 0 when the representation collapses */
} byol_step_stats;

/**
 * Creates a trainer. The online encoder is a copy of `encoder` (its
 * architecture and current weights; NULL builds the preset named by the
 * config's net.arch); the target is a copy of the online network
 * (byol.target_init=copy) or initialised independently as the reference
 * does (byol.target_init=independent). Everything is planned for
 * train.batch_size samples per view. A train.warmup_steps W that is not
 * below train.total_steps K is cut to K - 1 (the longest warmup whose
 * learning rate still reaches its peak, at the last step), with a
 * BYOL_LOG_WARN message naming both keys.
 * @param cfg settings, borrowed for the call (NULL: defaults).
 * @param encoder borrowed for the call; must end in a vector (a global pool).
 * @param out receives the trainer, owned by the caller (byol_trainer_destroy()).
 * @return BYOL_OK, BYOL_E_INVALID_ARG, BYOL_E_KEY / BYOL_E_RANGE (settings),
 *         BYOL_E_SHAPE (encoder output not a vector, batch below 2), BYOL_E_NOMEM.
 */
BYOL_API int byol_trainer_create(const byol_config *cfg, const byol_net *encoder,
                                 byol_trainer **out);

/**
 * Destroys a trainer, the networks it owns (its encoder from
 * byol_trainer_encoder() included), its optimizer state and its copy of the
 * config. Pointers from byol_trainer_buffer() become invalid.
 * @param t the trainer, owned by the caller until this call; NULL is
 *        accepted. Cannot fail.
 */
BYOL_API void byol_trainer_destroy(byol_trainer *t);

/**
 * One whole step: zero the gradients, forward and backward of both views,
 * the gradient hook if any, the optimizer update at lr(k), the target's
 * moving average with tau(k); k -> k + 1.
 * @param t the trainer, borrowed for the call.
 * @param view1, view2 the two views [N, C, H, W] of the same N images
 *        (N = train.batch_size, or train.batch_size / comm->size on each
 *        rank of a data-parallel run: byol_trainer_set_comm()), borrowed
 *        for the call.
 * @param stats caller memory with struct_size set, filled on success; may
 *        be NULL.
 * @return BYOL_OK; BYOL_E_SHAPE (a view's shape, or N other than
 *         train.batch_size); BYOL_E_NONFINITE (a view, the loss or a
 *         gradient is not finite: no parameter, target, optimizer state,
 *         BatchNorm statistic or step counter changed); BYOL_E_CANCELLED
 *         (by the gradient hook; nothing changed either); BYOL_E_RANGE
 *         (the step counter is at INT64_MAX, as a checkpoint may hold: the
 *         step is refused before it runs, nothing changed); BYOL_E_ABI (the
 *         stats' struct_size is too small); BYOL_E_COMM (a communicator's
 *         all-reduce failed: nothing changed); BYOL_E_INVALID_ARG (a NULL
 *         trainer, view or data, or a view's struct_size too small).
 */
BYOL_API int byol_trainer_step(byol_trainer *t, const byol_tensor *view1,
                               const byol_tensor *view2, byol_step_stats *stats);

/** @name The step in parts, for custom loops
 * byol_trainer_step(t, v1, v2, s) is, bit for bit:
 * @code
 * byol_trainer_zero_grad(t);
 * byol_trainer_accumulate(t, v1, v2, s);      // any number of micro-batches
 * // with a communicator, step sums byol_trainer_buffer(t, BYOL_BUFFER_GRADS, &n)
 * // over the ranks here (comm->allreduce_f32)
 * int64_t k = byol_trainer_step_index(t);
 * byol_trainer_apply_update(t, s);            // optimizer at lr(k); k -> k + 1
 * byol_trainer_update_target(t, byol_schedule_tau(k, K, tau_base));
 * @endcode
 * @{ */

/**
 * Sets the online gradients to zero.
 * @param t the trainer, borrowed for the call.
 * @return BYOL_OK or BYOL_E_INVALID_ARG (t is NULL).
 */
BYOL_API int byol_trainer_zero_grad(byol_trainer *t);

/**
 * Forward and backward of two views of n <= train.batch_size samples,
 * ADDING the gradient of (sum over these samples of the loss) /
 * train.batch_size into the online gradients: micro-batches that together
 * make one batch give the gradient of that batch's mean loss. Updates
 * BatchNorm statistics of online and target. stats (may be NULL) gets the
 * loss of these samples. With a communicator (byol_trainer_set_comm()) it
 * is collective: BatchNorm is synchronized and the stats cover the samples
 * of all ranks; the gradients are this rank's share, to be summed over the
 * ranks before byol_trainer_apply_update().
 * @param t the trainer, borrowed for the call.
 * @param view1, view2 the two views [n, C, H, W], borrowed for the call.
 * @param stats caller memory with struct_size set (may be NULL); gets step,
 *        loss, loss_12, loss_21 and collapse_std of these samples.
 * @return as byol_trainer_step(); on a failure the gradients may be
 *         partial (zero them before the next batch), the BatchNorm
 *         statistics are restored.
 */
BYOL_API int byol_trainer_accumulate(byol_trainer *t, const byol_tensor *view1,
                                     const byol_tensor *view2, byol_step_stats *stats);

/**
 * The step counter.
 * @param t the trainer, borrowed for the call.
 * @return the index k of the next optimizer step (0 for a new trainer, the
 *         saved step after byol_trainer_load()), or -1 when t is NULL.
 */
BYOL_API int64_t byol_trainer_step_index(const byol_trainer *t);

/**
 * Optimizer update of the online parameters with the gradients as they are,
 * at lr(k) from the schedule, then k <- k + 1.
 * @param t the trainer, borrowed for the call.
 * @param stats caller memory (may be NULL); gets step, lr and grad_norm.
 * @return BYOL_OK; BYOL_E_NONFINITE (a gradient is not finite; nothing
 *         changed); BYOL_E_RANGE (the step counter is at INT64_MAX; nothing
 *         changed); BYOL_E_INVALID_ARG.
 */
BYOL_API int byol_trainer_apply_update(byol_trainer *t, byol_step_stats *stats);

/**
 * target <- tau * target + (1 - tau) * online, over the target's
 * parameters (encoder and projector, BatchNorm scales and shifts included,
 * running statistics not). The step counter does not move.
 * @param t the trainer, borrowed for the call.
 * @param tau the decay, in [0, 1]: 1 keeps the target, 0 copies the online
 *        network; byol_schedule_tau() gives BYOL's.
 * @return BYOL_OK, BYOL_E_RANGE (tau outside [0, 1] or NaN; nothing
 *         changed), BYOL_E_INVALID_ARG (t is NULL).
 */
BYOL_API int byol_trainer_update_target(byol_trainer *t, double tau);

/**
 * Gradient hook called by byol_trainer_step() between the backward passes
 * and the update, on the calling thread, with the online gradient buffer
 * (grads, count floats; borrowed for the call, and the hook may change
 * them) and the user pointer; with a communicator (byol_trainer_set_comm())
 * it sees the gradients already summed over the ranks. A
 * non-zero return cancels the step (BYOL_E_CANCELLED, nothing changed; with
 * a communicator on every rank, the others failing with BYOL_E_COMM).
 * byol_trainer_accumulate() and byol_trainer_apply_update() do not call it:
 * in a loop of your own, work on byol_trainer_buffer() directly.
 */
typedef int (*byol_grad_hook)(float *grads, int64_t count, void *user);
/**
 * Installs the gradient hook of byol_trainer_step().
 * @param t the trainer, borrowed for the call.
 * @param fn the hook, or NULL to remove it; borrowed until replaced or the
 *        trainer is destroyed.
 * @param user passed to fn; borrowed as long as fn.
 * @return BYOL_OK or BYOL_E_INVALID_ARG (t is NULL).
 */
BYOL_API int byol_trainer_set_grad_hook(byol_trainer *t, byol_grad_hook fn, void *user);
/** @} */

/**
 * Borrowed pointer to the online parameters (BYOL_BUFFER_PARAMS) or their
 * gradients (BYOL_BUFFER_GRADS): encoder, projector and predictor in one
 * contiguous array, valid until the trainer is destroyed. The caller may
 * read and write it. The target's parameters are not exposed.
 * @param t the trainer, borrowed for the call.
 * @param which BYOL_BUFFER_PARAMS or BYOL_BUFFER_GRADS.
 * @param count receives the number of floats (may be NULL).
 * @return the buffer (borrowed), or NULL for a NULL trainer or another
 *         `which` (BYOL_E_INVALID_ARG recorded in byol_last_error()).
 */
BYOL_API float *byol_trainer_buffer(byol_trainer *t, int32_t which, int64_t *count);

/**
 * The online encoder: use it to embed or evaluate (byol_net_embed()), or to
 * export it with byol_net_save() under torchvision's names. Its weights are
 * the trainer's: they change with each step. It is planned for
 * train.batch_size (byol_net_embed() takes any N, in chunks of that size)
 * and, like the trainer, used by one thread at a time. A step refuses to
 * run if the encoder was re-planned for fewer samples than its views hold
 * (BYOL_E_SHAPE) or left in evaluation mode by byol_net_set_training()
 * (BYOL_E_BAD_STATE).
 * @param t the trainer, borrowed for the call.
 * @return the encoder, borrowed until the trainer is destroyed (never
 *         destroy it yourself), or NULL when t is NULL (no error recorded).
 */
BYOL_API byol_net *byol_trainer_encoder(byol_trainer *t);

/** @name Data-parallel training
 * Several processes (ranks) each hold a whole trainer and train it on their
 * slice of every global batch; the library never talks to other processes
 * itself. The caller hands each trainer a communicator (byol_comm): callbacks
 * that sum buffers over all ranks, which an MPI program implements with
 * MPI_Allreduce (libbyol-mpi does). docs/distributed.md has the semantics.
 *
 * With a communicator of n ranks:
 * - train.batch_size stays the GLOBAL batch B; byol_trainer_step() takes
 *   views of B/n images on every rank (rank r usually gets images
 *   [r B/n, (r+1) B/n) of the global batch). The learning-rate scaling
 *   (B/256) and everything else use B.
 * - BatchNorm is synchronized (byol.sync_bn=1, the default): the per-channel
 *   sums of the forward pass (online and target networks) and of the
 *   backward pass are summed over the ranks, so the statistics are those of
 *   the global per-view batch and the running statistics move identically
 *   on every rank. byol.sync_bn=0 keeps per-rank statistics.
 * - After the backward passes the gradient buffer is summed over the ranks:
 *   it is then the gradient of the global mean loss, the same as one
 *   process would compute from the whole batch. The gradient hook runs
 *   after that sum. The optimizer and the moving average then leave the
 *   same bits on every rank, and the loss in byol_step_stats is the global
 *   one. Checkpoints hold nothing rank-specific: a file saved by any rank of
 *   an n-rank run resumes a run with any other number of ranks at the same
 *   global batch.
 * - Every rank must call byol_trainer_step() (or byol_trainer_accumulate())
 *   together, with views of the same size. Before its first sum a step
 *   has the ranks agree on their input (one double all-reduced): when a
 *   rank refuses its views (a wrong shape, a non-finite value), every rank
 *   fails the step, the others with BYOL_E_COMM, and nothing changes. A
 *   cancel callback of the trainer's nets is polled there (not between
 *   layers), and the ranks agree again after the gradient hook, so a
 *   cancel on one rank cancels the step on all. A callback that fails on
 *   one rank only may leave the others waiting inside the communicator:
 *   end the whole run when yours fails (MPI_Abort).
 * @{ */

/** A communicator: the caller's collective operations over the ranks. */
typedef struct byol_comm {
    uint32_t struct_size; /**< set to sizeof(byol_comm) (lets the struct grow) */
    int32_t rank;         /**< this process, 0 .. size-1 */
    int32_t size;         /**< processes in the run, >= 1 */
    /** In-place sum over all ranks of count floats. Every rank calls it with
     * the same counts in the same order, and it must leave the same bits on
     * every rank (sum in a fixed order, e.g. by rank). Returns 0, or
     * non-zero on failure: the step then fails with BYOL_E_COMM and changes
     * nothing. Called on the thread that called the step. */
    int (*allreduce_f32)(float *data, int64_t count, void *user);
    /** The same over doubles (BatchNorm sums, the loss). */
    int (*allreduce_f64)(double *data, int64_t count, void *user);
    void *user;           /**< passed to both callbacks */
} byol_comm;

/**
 * Makes t one rank of a data-parallel run, or (comm NULL or comm->size 1)
 * a trainer alone again. Call it on every rank after creating (or
 * loading) the trainer and before its first step. When the images of a
 * rank's step (train.batch_size / comm->size) change, the activations and
 * scratch are re-planned for them, so a rank holds only its slice's (a
 * plan made with byol_net_plan() on byol_trainer_encoder() is then
 * replaced).
 * @param t the trainer, borrowed for the call.
 * @param comm the communicator, copied (its user pointer is borrowed until
 *        the communicator is replaced or the trainer destroyed); NULL for
 *        none.
 * @return BYOL_OK; BYOL_E_SHAPE (train.batch_size is not a multiple of
 *         comm->size, or with byol.sync_bn=0 each rank would hold fewer
 *         than 2 images: the message names the numbers); BYOL_E_ABI
 *         (comm->struct_size too small); BYOL_E_INVALID_ARG (t is NULL, a
 *         callback is NULL, size < 1 or rank outside [0, size));
 *         BYOL_E_NOMEM (the slice's activations). On failure the trainer
 *         keeps its previous communicator and plan.
 * @since 1.3
 */
BYOL_API int byol_trainer_set_comm(byol_trainer *t, const byol_comm *comm);
/** @} */

/** @name Schedules as pure functions of (step, total steps)
 * @{ */
/**
 * BYOL's learning-rate schedule: linear warmup, then cosine decay to 0:
 * lr(k) = peak*k/W for k < W, then peak*(1 + cos(pi*(k-W)/(K-W)))/2, and 0
 * for k >= K. The trainer calls it with peak = optim.lr * batch / 256.
 * @param step k (negative counts as 0).
 * @param total_steps K.
 * @param warmup_steps W (negative counts as 0; W >= K gives only warmup, then 0:
 *        the trainer never asks for that, it cuts W to K - 1).
 * @param peak_lr the rate at the end of the warmup.
 * @return lr(k). A pure function: no state, no error, no memory owned or
 *         borrowed.
 */
BYOL_API double byol_schedule_lr(int64_t step, int64_t total_steps, int64_t warmup_steps,
                                 double peak_lr);
/**
 * BYOL's target decay: tau(k) = 1 - (1 - tau_base)*(cos(pi*k/K) + 1)/2,
 * with tau(k) = tau_base exactly for k <= 0 and 1 for k >= K.
 * @param step k.
 * @param total_steps K (K <= 0 gives 1).
 * @param tau_base tau at step 0 (ema.tau_base, 0.996 by default).
 * @return tau(k). A pure function: no state, no error, no memory owned or
 *         borrowed.
 */
BYOL_API double byol_schedule_tau(int64_t step, int64_t total_steps, double tau_base);
/** @} */

/** @name Checkpoints
 * The whole training state (online and target networks with BatchNorm
 * statistics, optimizer state, step index, total steps, the configuration
 * and the library version) in one safetensors file. Resuming continues
 * with bitwise the same results as an uninterrupted run.
 * @{ */

/**
 * Saves the training state to path, atomically (a failure keeps any
 * previous file intact). docs/checkpoints.md describes the file. As every
 * save (byol_file_write_atomic()), it replaces only a regular file, follows
 * a symbolic link to the file it names, and removes the temporary files
 * that dead processes left beside that file.
 * @param t the trainer, borrowed for the call (not changed).
 * @param path the file to create or replace, borrowed for the call.
 * @return BYOL_OK, BYOL_E_IO (the message names the path and the reason:
 *         a folder, a FIFO or a device at path, a dangling link, a write
 *         that failed), BYOL_E_NOMEM, BYOL_E_INVALID_ARG (a NULL argument,
 *         an empty path).
 */
BYOL_API int byol_trainer_save(const byol_trainer *t, const char *path);

/**
 * Restores a state saved by byol_trainer_save() into a trainer created with
 * the same architecture, byol.mode and optimizer settings. Everything is
 * checked before anything is copied: on failure the trainer is unchanged.
 * The file must be this trainer's whole state and nothing else: a missing
 * tensor, one the trainer has no place for (another architecture, a stray
 * tensor), a non-finite value in a network or the optimizer state, or a
 * byol.mode (stored settings) other than the trainer's is refused. So is
 * the optimizer state of another optimizer (optim.name, or SGD with
 * optim.momentum=0 where the file has a momentum buffer, or the reverse),
 * unless the trainer's settings have train.allow_optim_change=1: then the
 * networks and the step load, the file's optimizer state is dropped with a
 * BYOL_LOG_WARN message (byol_set_log_callback()) and the trainer's
 * optimizer starts afresh (zero buffers, step count 0, as a new one would;
 * the schedules go on from the loaded step). With the same optimizer that
 * setting changes nothing. Other stored settings are not applied: the
 * trainer keeps its own (the total steps, schedules and optimizer
 * hyperparameters included). The numerics modes are: a checkpoint records
 * the modes it was trained with as resolved on its CPU
 * (nn.conv_algo=auto becomes winograd or im2col), and a trainer whose
 * modes differ refuses it unless its settings have
 * train.allow_mode_change=1, since the run would go on with other bits.
 * byol_trainer_save() stores neither permission, so the next load of the
 * run is checked again.
 * @param t the trainer, borrowed for the call.
 * @param path the checkpoint, borrowed for the call (read, then closed).
 * @return BYOL_OK; BYOL_E_IO; BYOL_E_FORMAT (not a libbyol checkpoint, a
 *         missing or unexpected tensor, another architecture, optimizer or
 *         byol.mode, a non-finite value, unreadable metadata, a step,
 *         total_steps or optim_steps that is not ASCII digits in its range;
 *         the message names the file and the tensor or key);
 *         BYOL_E_UNSUPPORTED (trained under other modes; the message names
 *         both); BYOL_E_NOMEM; BYOL_E_INVALID_ARG (a NULL argument, an
 *         empty path).
 */
BYOL_API int byol_trainer_load(byol_trainer *t, const char *path);
/** @} */

BYOL_END_DECL

#endif
