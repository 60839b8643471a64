/**
 * @file byol_net.h
 * @brief byol_net: networks with exact forward and backward passes.
 *
 * A byol_net is a feed-forward network (an encoder such as a ResNet, or an
 * MLP head) with its parameters, their gradients and its BatchNorm state.
 * Nets come from presets chosen by the "net.arch" config key or from a
 * byol_builder that assembles layers by hand.
 *
 * Memory: parameters, gradients and BatchNorm running statistics each live
 * in one contiguous float buffer (byol_net_buffer()); byol_net_tensor_info()
 * maps every named tensor (PyTorch state_dict names) to its offset and
 * shape. Activations live in an arena sized by byol_net_plan() for a
 * maximum batch size: forward and backward never allocate.
 *
 * Tensors across the ABI are float32, contiguous, row-major; images are
 * NCHW. Internally the library uses channels-last layouts.
 *
 * A net is used by one thread at a time; distinct nets are independent.
 */
#ifndef BYOL_NET_H
#define BYOL_NET_H

#include "byol_common.h"
#include "byol_config.h"

BYOL_BEGIN_DECL

/** Opaque network handle. */
typedef struct byol_net byol_net;

/**
 * A borrowed view of a float32 tensor: ndim (1 to 4) dimensions in shape,
 * data contiguous row-major. The library reads or writes data only during
 * the call that receives the view. Set struct_size to sizeof(byol_tensor).
 */
typedef struct byol_tensor {
    uint32_t struct_size;  /**< set to sizeof(byol_tensor) */
    int32_t ndim;          /**< number of dimensions used in shape, 1 to 4 */
    int64_t shape[4];      /**< sizes, outermost first (N, C, H, W for images) */
    float *data;           /**< shape[0] * ... * shape[ndim-1] floats, caller memory */
} byol_tensor;

/** Initialiser for a byol_tensor in C: `byol_tensor t = BYOL_TENSOR_INIT;` */
#define BYOL_TENSOR_INIT { (uint32_t)sizeof(byol_tensor), 0, { 0, 0, 0, 0 }, NULL }

/**
 * Creates the network named by the config's "net.arch" key: "resnet18",
 * "resnet34", "resnet50" (torchvision topology and initialisation),
 * "resnet18-cifar", "resnet50-cifar" (3x3 stride-1 stem, no max-pool),
 * "cnn-small" (1x28x28 inputs, 128-d output) or "mlp" (keys net.mlp.*).
 * "net.width" multiplies channel counts; "net.num_classes" > 0 appends a
 * classifier ("fc"); "seed" fixes the initialisation.
 * @param cfg settings, borrowed for the call; NULL means all defaults.
 * @param out receives the net, owned by the caller (byol_net_destroy()).
 * @return BYOL_OK, BYOL_E_INVALID_ARG, BYOL_E_KEY/BYOL_E_RANGE (settings),
 *         BYOL_E_SHAPE (an image size the architecture cannot take),
 *         BYOL_E_NOMEM.
 */
BYOL_API int byol_net_create(const byol_config *cfg, byol_net **out);

/**
 * Destroys a net and everything it owns (buffers, arena, tensor names).
 * Never call it on a borrowed net (byol_trainer_encoder()).
 * @param net the net, owned by the caller until this call; NULL is
 *        accepted. Cannot fail.
 */
BYOL_API void byol_net_destroy(byol_net *net);

/**
 * Plans the activation arena for batches of up to max_batch samples. Must
 * be called before the first forward; may be called again to resize.
 * Parameters, gradients and state are kept; a pending backward is not.
 * @param net the net, borrowed for the call; it owns the arena.
 * @param max_batch largest batch of later calls, in [1, 2^24].
 * @return BYOL_OK, BYOL_E_INVALID_ARG (NULL net, max_batch out of range),
 *         BYOL_E_NOMEM (the previous plan stays in force).
 */
BYOL_API int byol_net_plan(byol_net *net, int64_t max_batch);

/**
 * Chooses training mode (BatchNorm uses batch statistics and updates its
 * running statistics) or evaluation mode (running statistics). New nets are
 * in training mode. A pending backward is invalidated.
 * @param net the net, borrowed for the call.
 * @param training non-zero for training mode, 0 for evaluation mode.
 * @return BYOL_OK or BYOL_E_INVALID_ARG (net is NULL).
 */
BYOL_API int byol_net_set_training(byol_net *net, int32_t training);

/**
 * Per-sample input shape. A vector input of D features is (D, 1, 1).
 * @param net the net, borrowed for the call.
 * @param dims receives C, H, W (caller memory, 3 elements).
 * @return BYOL_OK or BYOL_E_INVALID_ARG (a NULL argument).
 */
BYOL_API int byol_net_input_dims(const byol_net *net, int64_t dims[3]);

/**
 * Per-sample output shape.
 * @param net the net, borrowed for the call.
 * @param ndim receives 1 for a vector (D) or 3 for a map (C, H, W).
 * @param dims receives the sizes (caller memory, 3 elements; D, 1, 1 for a
 *        vector).
 * @return BYOL_OK or BYOL_E_INVALID_ARG (a NULL argument).
 */
BYOL_API int byol_net_output_dims(const byol_net *net, int32_t *ndim, int64_t dims[3]);

/**
 * Forward pass. In training mode the activations are kept for
 * byol_net_backward() and BatchNorm running statistics are updated.
 * @param net the net, borrowed for the call.
 * @param x input [N, C, H, W] (or [N, D] for a vector input), borrowed for
 *        the call; N from 1 to the planned batch.
 * @param y output [N, ...] matching byol_net_output_dims() ([N, D] or
 *        [N, C, H, W]), caller memory written during the call.
 * @return BYOL_OK; BYOL_E_SHAPE (a shape differs, or N exceeds the planned
 *         batch; the message gives both shapes); BYOL_E_BAD_STATE (never
 *         planned); BYOL_E_NONFINITE (x holds NaN or infinity; nothing
 *         changes); BYOL_E_CANCELLED; BYOL_E_ABI (a struct_size too small);
 *         BYOL_E_INVALID_ARG (a NULL net, tensor or data).
 */
BYOL_API int byol_net_forward(byol_net *net, const byol_tensor *x, byol_tensor *y);

/**
 * Backward pass for the last training-mode forward: ADDS dLoss/dparams into
 * the gradient buffer. Gradients accumulate across calls until
 * byol_net_zero_grad().
 * @param net the net, borrowed for the call.
 * @param dy dLoss/dy, the shape of that forward's y, borrowed for the call.
 * @param dx if not NULL, receives dLoss/dx (the shape of x; caller memory).
 * @return BYOL_OK; BYOL_E_BAD_STATE (no training forward since the last
 *         plan, eval forward or embed); BYOL_E_SHAPE; BYOL_E_CANCELLED
 *         (gradients are then partial: zero them); BYOL_E_INVALID_ARG.
 */
BYOL_API int byol_net_backward(byol_net *net, const byol_tensor *dy, byol_tensor *dx);

/**
 * Sets every gradient to zero.
 * @param net the net, borrowed for the call.
 * @return BYOL_OK or BYOL_E_INVALID_ARG (net is NULL).
 */
BYOL_API int byol_net_zero_grad(byol_net *net);

/**
 * Inference: evaluation-mode forward of any number of samples (processed in
 * chunks of the planned batch size). Leaves the mode unchanged; a pending
 * backward is invalidated.
 * @param net the net, borrowed for the call.
 * @param x input [N, C, H, W] (or [N, D]), any N >= 1, borrowed for the call.
 * @param y output [N, D] with D the product of the output dims, caller
 *        memory written during the call.
 * @return as byol_net_forward(), except that N may exceed the planned batch
 *         and a y of the wrong shape is BYOL_E_SHAPE.
 */
BYOL_API int byol_net_embed(byol_net *net, const byol_tensor *x, byol_tensor *y);

/** @name Flat buffers
 * @{ */
#define BYOL_BUFFER_PARAMS 0  /**< trainable parameters */
#define BYOL_BUFFER_GRADS 1   /**< gradients, same layout as the parameters */
#define BYOL_BUFFER_STATE 2   /**< BatchNorm running means and variances */
/** @} */

/**
 * Borrowed pointer to one flat buffer (valid until the net is destroyed;
 * the library never moves it). The caller may read and write it, e.g. to
 * implement an optimizer or to all-reduce gradients across processes.
 * @param net the net, borrowed for the call.
 * @param which BYOL_BUFFER_PARAMS, BYOL_BUFFER_GRADS or BYOL_BUFFER_STATE.
 * @param count receives the number of floats (may be NULL).
 * @return the buffer, or NULL for a bad argument (message set). A buffer
 *         with no elements returns a valid non-NULL pointer.
 */
BYOL_API float *byol_net_buffer(byol_net *net, int32_t which, int64_t *count);

/** Flags of a tensor in byol_tensor_info. */
#define BYOL_TENSOR_BIAS 1u   /**< a bias vector */
#define BYOL_TENSOR_NORM 2u   /**< a BatchNorm parameter or statistic */

/** Where one named tensor lives, filled by byol_net_tensor_info(). */
typedef struct byol_tensor_info {
    uint32_t struct_size;  /**< set to sizeof(byol_tensor_info) before the call */
    int32_t buffer;        /**< BYOL_BUFFER_PARAMS (gradient at the same offset) or BYOL_BUFFER_STATE */
    const char *name;      /**< PyTorch state_dict name; valid until the net is destroyed */
    int32_t ndim;          /**< dimensions used in shape, 1 to 4 */
    uint32_t flags;        /**< BYOL_TENSOR_* */
    int64_t shape[4];      /**< PyTorch layout, e.g. conv [Cout, Cin, KH, KW]; unused sizes 0 */
    int64_t offset;        /**< in floats from the start of the buffer */
    int64_t numel;         /**< number of floats, the product of the sizes */
} byol_tensor_info;

/**
 * Counts the named tensors (parameters and running statistics).
 * @param net the net, borrowed for the call.
 * @return the count, or 0 when net is NULL. Sets no error.
 */
BYOL_API int64_t byol_net_tensor_count(const byol_net *net);

/**
 * Describes tensor `index` (0 .. byol_net_tensor_count()-1), in state_dict
 * order. BatchNorm's num_batches_tracked counters are not float tensors and
 * are not listed; they are saved and loaded with the weights, and
 * byol_net_counter() reads them.
 * @param net the net, borrowed for the call.
 * @param index the tensor's index.
 * @param info caller memory with struct_size set; filled on success. Its
 *        name is borrowed from the net, valid until the net is destroyed.
 * @return BYOL_OK, BYOL_E_RANGE (index), BYOL_E_ABI (struct_size), BYOL_E_INVALID_ARG.
 */
BYOL_API int byol_net_tensor_info(const byol_net *net, int64_t index, byol_tensor_info *info);

/**
 * Reads a BatchNorm layer's num_batches_tracked counter, the int64 entry
 * PyTorch's state_dict has after each running_var: the number of
 * training-mode forward passes the layer has made since the net was
 * created, or since the value a loaded weight file or checkpoint gave it
 * (eval-mode passes and embeddings do not count). Added in libbyol 1.3.
 * @param net the net, borrowed for the call.
 * @param name the counter's state_dict name, "<layer>.num_batches_tracked"
 *        (e.g. "bn1.num_batches_tracked": a BatchNorm tensor's name with
 *        "running_var" replaced), borrowed for the call.
 * @param value receives the counter.
 * @return BYOL_OK, BYOL_E_KEY (the net has no BatchNorm of that name; the
 *         message names it), BYOL_E_INVALID_ARG (a NULL argument).
 */
BYOL_API int byol_net_counter(const byol_net *net, const char *name, int64_t *value);

/**
 * Installs a cancel callback polled between layers of forward and backward,
 * on the calling thread. On the nets of a data-parallel trainer
 * (byol_trainer_set_comm() with more than one rank) no pass polls it, not
 * even byol_net_embed(): the trainer polls it once per step, as the ranks
 * agree to step, so that all ranks cancel together.
 * @param net the net, borrowed for the call.
 * @param fn the callback, or NULL to remove it; borrowed until replaced or
 *        the net is destroyed.
 * @param user passed to fn; borrowed as long as fn.
 * @return BYOL_OK or BYOL_E_INVALID_ARG (net is NULL).
 */
BYOL_API int byol_net_set_cancel(byol_net *net, byol_cancel_fn fn, void *user);

/* ------------------------------------------------------------------------ */
/** @name Weight files
 * Weights are safetensors files with PyTorch state_dict names and layouts
 * (for ResNets, torchvision's: conv1.weight, bn1.running_var,
 * layer1.0.conv1.weight, ... with num_batches_tracked as int64), so a file
 * saved here loads into torchvision with load_state_dict(strict=True) and
 * back.
 * @{ */

/**
 * Saves parameters, running statistics and counters to path. Atomic: the
 * file is written beside the target, synced and renamed, so a failure
 * leaves any previous file intact. As every save (byol_file_write_atomic()),
 * it replaces only a regular file, follows a symbolic link to the file it
 * names, and removes the temporary files that dead processes left beside
 * that file.
 * @param net the net, borrowed for the call (not changed).
 * @param path the file to create or replace, borrowed for the call.
 * @return BYOL_OK, BYOL_E_IO (message names the path and the reason: a
 *         folder, a FIFO or a device at path, a dangling link, a write
 *         that failed), BYOL_E_NOMEM, BYOL_E_INVALID_ARG (a NULL argument,
 *         an empty path).
 */
BYOL_API int byol_net_save(const byol_net *net, const char *path);

/**
 * Saves the weights as byol_net_save() does and records in the file's
 * metadata the settings that describe the encoder, under their config key
 * names, as byol_config_format() writes them: net.arch, net.width,
 * net.in_channels and net.image_size (the input the net takes), and the
 * inputs it expects: data.channels, augment.size, augment.mean,
 * augment.std. A reader (`byol eval --weights`, Python's Net.from_file)
 * then needs no flags to build the net and feed it. PyTorch ignores the
 * metadata.
 * @param net the net, borrowed for the call (not changed).
 * @param cfg the settings the net was created and trained with, borrowed
 *        for the call (its net.arch and net.width are recorded as they are).
 * @param path the file to create or replace (atomically), borrowed.
 * @return BYOL_OK, BYOL_E_IO (names the path), BYOL_E_RANGE (a value
 *         longer than 255 bytes, an input the config cannot express),
 *         BYOL_E_NOMEM, BYOL_E_INVALID_ARG (a NULL argument, an empty path).
 */
BYOL_API int byol_net_export(const byol_net *net, const byol_config *cfg, const char *path);

#define BYOL_LOAD_STRICT 0u             /**< every tensor must match, none may be extra */
#define BYOL_LOAD_IGNORE_UNEXPECTED 1u  /**< tensors the net does not have are skipped */
/** Tensors named fc.* that the net does not have are skipped (a torchvision
 *  classifier's head, when its file is loaded into an encoder); any other
 *  extra tensor is still an error. */
#define BYOL_LOAD_IGNORE_CLASSIFIER 2u

/**
 * Loads weights from path into the net. Every name, dtype, shape, size and
 * offset is checked, and every value of the net's tensors must be finite,
 * before anything is copied: on failure the net is unchanged. The sizes the
 * header declares are checked against the file's before any tensor byte is
 * read, and the file is mapped rather than read, so a load costs the memory
 * of the tensors it copies, not of the file.
 * @param net the net, borrowed for the call.
 * @param path a safetensors file, borrowed for the call (read, then closed).
 * @param flags BYOL_LOAD_* bits; any other bit is refused.
 * @return BYOL_OK; BYOL_E_IO (cannot read; not a regular file: a FIFO or a
 *         folder is refused at once); BYOL_E_FORMAT (malformed file,
 *         missing or unexpected tensor, wrong dtype (named as safetensors
 *         names it, e.g. "I32") or shape, a NaN or infinity; the message
 *         names the file and the tensor, and the index of a bad value);
 *         BYOL_E_NOMEM; BYOL_E_INVALID_ARG (a NULL argument, an empty
 *         path, unknown flag bits; the message names the bits).
 */
BYOL_API int byol_net_load(byol_net *net, const char *path, uint32_t flags);

/**
 * As byol_net_load(), from a safetensors file held in memory.
 * @param net the net, borrowed for the call.
 * @param data, len the file's bytes, borrowed for the call (not kept).
 * @param flags BYOL_LOAD_* bits.
 * @return as byol_net_load() (BYOL_E_FORMAT names the file "<buffer>").
 */
BYOL_API int byol_net_load_buffer(byol_net *net, const void *data, size_t len, uint32_t flags);
/** @} */

/* ------------------------------------------------------------------------ */
/**
 * @name Builder: custom networks from layers
 * A byol_builder records layers as a graph of nodes. Node 0 is the input;
 * each call adds one node fed by earlier nodes and returns its id through
 * `out`. Layers with parameters take a name that prefixes their
 * state_dict entries ("stem" gives "stem.weight"); NULL names the layer by
 * its node id. byol_builder_finish() creates a net whose output is the
 * given node, initialised as torchvision initialises such layers (or as
 * Haiku does with net.init=haiku). Every call returns BYOL_OK,
 * BYOL_E_INVALID_ARG (bad node id, bad geometry, duplicate name),
 * BYOL_E_SHAPE (a layer that cannot take its input's shape) or
 * BYOL_E_NOMEM; a failed call leaves the builder as it was.
 * @{ */
/** Opaque builder handle: a graph of layers under construction. */
typedef struct byol_builder byol_builder;

/**
 * Starts a graph whose input is [channels, height, width] per sample
 * (height = width = 1 describes a vector input of `channels` features).
 * @param cfg settings for initialisation (seed, net.init, net.bn_*,
 *        threads), borrowed for the call; NULL for defaults.
 * @param channels, height, width the input shape, each >= 1.
 * @param out receives the builder, owned by the caller
 *        (byol_builder_destroy()); NULL on failure.
 * @return BYOL_OK, BYOL_E_INVALID_ARG (out is NULL), BYOL_E_SHAPE (a size
 *         below 1), BYOL_E_NOMEM.
 */
BYOL_API int byol_builder_create(const byol_config *cfg, int64_t channels, int64_t height,
                                 int64_t width, byol_builder **out);
/**
 * Destroys a builder. Nets it made are independent of it.
 * @param b the builder, owned by the caller until this call; NULL is
 *        accepted. Cannot fail.
 */
BYOL_API void byol_builder_destroy(byol_builder *b);
/**
 * 2-D convolution of a map, square kernel, symmetric zero padding.
 * @param b the builder, borrowed for the call.
 * @param name the layer's state_dict prefix (copied), or NULL for its node id.
 * @param src the input node, a map [C, H, W].
 * @param out_channels output channels, >= 1.
 * @param kernel kernel size, >= 1.
 * @param stride stride, >= 1.
 * @param padding zero padding on each side, >= 0.
 * @param bias 1 for a bias vector, 0 for none.
 * @param out receives the new node's id (may be NULL).
 * @return BYOL_OK; BYOL_E_INVALID_ARG (NULL builder, no such node, bad
 *         geometry, duplicate or over-long name); BYOL_E_SHAPE (src is not a
 *         map, or smaller than the kernel); BYOL_E_NOMEM.
 */
BYOL_API int byol_builder_conv2d(byol_builder *b, const char *name, int32_t src,
                                 int64_t out_channels, int32_t kernel, int32_t stride,
                                 int32_t padding, int32_t bias, int32_t *out);
/**
 * BatchNorm over channels (2-D for maps, 1-D for vectors), with the
 * net.bn_* settings given to byol_builder_create().
 * @param b the builder, borrowed for the call.
 * @param name the layer's state_dict prefix (copied), or NULL for its node id.
 * @param src the input node.
 * @param out receives the new node's id (may be NULL).
 * @return BYOL_OK; BYOL_E_INVALID_ARG (NULL builder, no such node,
 *         duplicate or over-long name); BYOL_E_NOMEM.
 */
BYOL_API int byol_builder_batchnorm(byol_builder *b, const char *name, int32_t src, int32_t *out);
/**
 * Rectified linear unit.
 * @param b the builder, borrowed for the call.
 * @param src the input node.
 * @param out receives the new node's id (may be NULL).
 * @return BYOL_OK; BYOL_E_INVALID_ARG (NULL builder, no such node);
 *         BYOL_E_NOMEM.
 */
BYOL_API int byol_builder_relu(byol_builder *b, int32_t src, int32_t *out);
/**
 * Max-pool of a map, square window, padding with -infinity, floor output size.
 * @param b the builder, borrowed for the call.
 * @param src the input node, a map.
 * @param kernel window size, >= 1.
 * @param stride stride, >= 1.
 * @param padding at most kernel / 2.
 * @param out receives the new node's id (may be NULL).
 * @return BYOL_OK; BYOL_E_INVALID_ARG (NULL builder, no such node, bad
 *         geometry); BYOL_E_SHAPE (src is not a map, or smaller than the
 *         window); BYOL_E_NOMEM.
 */
BYOL_API int byol_builder_maxpool(byol_builder *b, int32_t src, int32_t kernel, int32_t stride,
                                  int32_t padding, int32_t *out);
/**
 * Global average pool of a map [C, H, W] to a vector [C].
 * @param b the builder, borrowed for the call.
 * @param src the input node, a map.
 * @param out receives the new node's id (may be NULL).
 * @return BYOL_OK; BYOL_E_INVALID_ARG (NULL builder, no such node);
 *         BYOL_E_SHAPE (src is not a map); BYOL_E_NOMEM.
 */
BYOL_API int byol_builder_avgpool(byol_builder *b, int32_t src, int32_t *out);
/**
 * Fully connected layer on a vector.
 * @param b the builder, borrowed for the call.
 * @param name the layer's state_dict prefix (copied), or NULL for its node id.
 * @param src the input node, a vector.
 * @param out_features output features, >= 1.
 * @param bias 1 for a bias vector, 0 for none.
 * @param out receives the new node's id (may be NULL).
 * @return BYOL_OK; BYOL_E_INVALID_ARG (NULL builder, no such node,
 *         out_features < 1, duplicate or over-long name); BYOL_E_SHAPE (src is
 *         not a vector); BYOL_E_NOMEM.
 */
BYOL_API int byol_builder_linear(byol_builder *b, const char *name, int32_t src,
                                 int64_t out_features, int32_t bias, int32_t *out);
/**
 * Element-wise sum of two nodes of the same shape (residual connection).
 * @param b the builder, borrowed for the call.
 * @param src_a, src_b the two input nodes.
 * @param out receives the new node's id (may be NULL).
 * @return BYOL_OK; BYOL_E_INVALID_ARG (NULL builder, no such node);
 *         BYOL_E_SHAPE (the two shapes differ); BYOL_E_NOMEM.
 */
BYOL_API int byol_builder_add(byol_builder *b, int32_t src_a, int32_t src_b, int32_t *out);
/**
 * Flattens a map [C, H, W] into a vector [C*H*W] in PyTorch's order.
 * @param b the builder, borrowed for the call.
 * @param src the input node, a map.
 * @param out receives the new node's id (may be NULL).
 * @return BYOL_OK; BYOL_E_INVALID_ARG (NULL builder, no such node);
 *         BYOL_E_SHAPE (src is not a map); BYOL_E_NOMEM.
 */
BYOL_API int byol_builder_flatten(byol_builder *b, int32_t src, int32_t *out);
/**
 * Creates a net computing node `output`, initialised from the builder's
 * settings. The builder stays valid and may finish more nets.
 * @param b the builder, borrowed for the call.
 * @param output the id of the node the net outputs.
 * @param out receives the net, owned by the caller (byol_net_destroy()).
 * @return BYOL_OK, BYOL_E_INVALID_ARG (a NULL argument, no such node),
 *         BYOL_E_NOMEM.
 */
BYOL_API int byol_builder_finish(byol_builder *b, int32_t output, byol_net **out);
/** @} */

BYOL_END_DECL

#endif
