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
    uint32_t struct_size;
    int32_t ndim;
    int64_t shape[4];
    float *data;
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

/** Destroys a net and everything it owns; NULL is accepted. */
BYOL_API void byol_net_destroy(byol_net *net);

/**
 * Plans the activation arena for batches of up to max_batch samples. Must
 * be called before the first forward; may be called again to resize.
 * Parameters, gradients and state are kept.
 * @return BYOL_OK, BYOL_E_INVALID_ARG (max_batch < 1), BYOL_E_NOMEM (the
 *         previous plan stays in force).
 */
BYOL_API int byol_net_plan(byol_net *net, int64_t max_batch);

/**
 * Chooses training mode (BatchNorm uses batch statistics and updates its
 * running statistics) or evaluation mode (running statistics). New nets are
 * in training mode.
 * @return BYOL_OK or BYOL_E_INVALID_ARG.
 */
BYOL_API int byol_net_set_training(byol_net *net, int32_t training);

/**
 * Per-sample input shape (C, H, W) written to dims[0..2].
 * @return BYOL_OK or BYOL_E_INVALID_ARG.
 */
BYOL_API int byol_net_input_dims(const byol_net *net, int64_t dims[3]);

/**
 * Per-sample output shape: *ndim is 1 for a vector (D) or 3 for a map
 * (C, H, W); dims receives the sizes.
 * @return BYOL_OK or BYOL_E_INVALID_ARG.
 */
BYOL_API int byol_net_output_dims(const byol_net *net, int32_t *ndim, int64_t dims[3]);

/**
 * Forward pass. x is [N, C, H, W] (or [N, D] for an MLP), y is [N, ...]
 * matching byol_net_output_dims(); both borrowed for the call. In training
 * mode the activations are kept for byol_net_backward() and BatchNorm
 * running statistics are updated.
 * @return BYOL_OK; BYOL_E_SHAPE (a shape differs, or N exceeds the planned
 *         batch; the message gives both shapes); BYOL_E_BAD_STATE (never
 *         planned); BYOL_E_NONFINITE (x holds NaN or infinity; nothing
 *         changes); BYOL_E_CANCELLED; BYOL_E_INVALID_ARG.
 */
BYOL_API int byol_net_forward(byol_net *net, const byol_tensor *x, byol_tensor *y);

/**
 * Backward pass for the last training-mode forward: given dy = dLoss/dy
 * (shape of y), ADDS dLoss/dparams into the gradient buffer and, if dx is
 * not NULL, writes dLoss/dx (shape of x). Gradients accumulate across calls
 * until byol_net_zero_grad().
 * @return BYOL_OK; BYOL_E_BAD_STATE (no training forward since the last
 *         plan, eval forward or embed); BYOL_E_SHAPE; BYOL_E_CANCELLED
 *         (gradients are then partial: zero them); BYOL_E_INVALID_ARG.
 */
BYOL_API int byol_net_backward(byol_net *net, const byol_tensor *dy, byol_tensor *dx);

/** Sets every gradient to zero. @return BYOL_OK or BYOL_E_INVALID_ARG. */
BYOL_API int byol_net_zero_grad(byol_net *net);

/**
 * Inference: evaluation-mode forward of any number of samples (processed in
 * chunks of the planned batch size), y = [N, D] with D the product of the
 * output dims. Leaves the mode unchanged; a pending backward is invalidated.
 * @return as byol_net_forward().
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
    int32_t ndim;
    uint32_t flags;        /**< BYOL_TENSOR_* */
    int64_t shape[4];      /**< PyTorch layout, e.g. conv [Cout, Cin, KH, KW] */
    int64_t offset;        /**< in floats from the start of the buffer */
    int64_t numel;
} byol_tensor_info;

/** Number of named tensors (parameters and running statistics). */
BYOL_API int64_t byol_net_tensor_count(const byol_net *net);

/**
 * Describes tensor `index` (0 .. byol_net_tensor_count()-1), in state_dict
 * order. BatchNorm's num_batches_tracked counters are not float tensors and
 * are not listed; they are saved and loaded with the weights.
 * @return BYOL_OK, BYOL_E_RANGE (index), BYOL_E_ABI (struct_size), BYOL_E_INVALID_ARG.
 */
BYOL_API int byol_net_tensor_info(const byol_net *net, int64_t index, byol_tensor_info *info);

/**
 * Installs a cancel callback polled between layers of forward and backward
 * (NULL removes it). fn and user are borrowed until replaced or the net is
 * destroyed.
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
 * leaves any previous file intact.
 * @return BYOL_OK, BYOL_E_IO (message names the path and the reason),
 *         BYOL_E_NOMEM, BYOL_E_INVALID_ARG.
 */
BYOL_API int byol_net_save(const byol_net *net, const char *path);

#define BYOL_LOAD_STRICT 0u             /**< every tensor must match, none may be extra */
#define BYOL_LOAD_IGNORE_UNEXPECTED 1u  /**< tensors the net does not have are skipped */

/**
 * Loads weights from path into the net. Every name, dtype, shape, size and
 * offset is checked before anything is copied: on failure the net is
 * unchanged.
 * @param flags BYOL_LOAD_* bits.
 * @return BYOL_OK; BYOL_E_IO (cannot read); BYOL_E_FORMAT (malformed file,
 *         missing or unexpected tensor, wrong dtype or shape; the message
 *         names the file and the tensor); BYOL_E_NOMEM; BYOL_E_INVALID_ARG.
 */
BYOL_API int byol_net_load(byol_net *net, const char *path, uint32_t flags);

/** As byol_net_load() from len bytes at data (borrowed for the call). */
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
typedef struct byol_builder byol_builder;

/**
 * Starts a graph whose input is [channels, height, width] per sample
 * (height = width = 1 describes a vector input of `channels` features).
 * @param cfg settings for initialisation (seed, net.init, net.bn_*),
 *        borrowed for the call; NULL for defaults.
 */
BYOL_API int byol_builder_create(const byol_config *cfg, int64_t channels, int64_t height,
                                 int64_t width, byol_builder **out);
/** Destroys a builder; NULL is accepted. Nets it made are independent of it. */
BYOL_API void byol_builder_destroy(byol_builder *b);
/** 2-D convolution, square kernel, symmetric zero padding; bias 0 or 1. */
BYOL_API int byol_builder_conv2d(byol_builder *b, const char *name, int32_t src,
                                 int64_t out_channels, int32_t kernel, int32_t stride,
                                 int32_t padding, int32_t bias, int32_t *out);
/** BatchNorm over channels (2-D for maps, 1-D for vectors). */
BYOL_API int byol_builder_batchnorm(byol_builder *b, const char *name, int32_t src, int32_t *out);
/** Rectified linear unit. */
BYOL_API int byol_builder_relu(byol_builder *b, int32_t src, int32_t *out);
/** Max-pool, square window, padding with -infinity, floor output size. */
BYOL_API int byol_builder_maxpool(byol_builder *b, int32_t src, int32_t kernel, int32_t stride,
                                  int32_t padding, int32_t *out);
/** Global average pool of a map [C, H, W] to a vector [C]. */
BYOL_API int byol_builder_avgpool(byol_builder *b, int32_t src, int32_t *out);
/** Fully connected layer on a vector; bias 0 or 1. */
BYOL_API int byol_builder_linear(byol_builder *b, const char *name, int32_t src,
                                 int64_t out_features, int32_t bias, int32_t *out);
/** Element-wise sum of two nodes of the same shape (residual connection). */
BYOL_API int byol_builder_add(byol_builder *b, int32_t src_a, int32_t src_b, int32_t *out);
/** Flattens a map [C, H, W] into a vector [C*H*W] in PyTorch's order. */
BYOL_API int byol_builder_flatten(byol_builder *b, int32_t src, int32_t *out);
/**
 * Creates a net computing node `output`. The builder stays valid and may
 * finish more nets. @param out receives a net owned by the caller.
 */
BYOL_API int byol_builder_finish(byol_builder *b, int32_t output, byol_net **out);
/** @} */

BYOL_END_DECL

#endif
