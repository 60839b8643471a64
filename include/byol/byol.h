/**
 * @file byol.h
 * @brief libbyol: BYOL self-supervised training of image encoders on the CPU.
 *
 * @section tour A guided tour
 *
 * libbyol trains an image encoder with BYOL (Bootstrap Your Own Latent,
 * Grill et al. 2020) inside your program, numerically as the reference does
 * and without Python. It has a small set of opaque handles, each with a
 * create call that returns a status and a destroy call that accepts NULL:
 *
 * - byol_config (byol_config.h): every setting by name ("net.arch",
 *   "net.width", "threads", ...), presets, "key=value" parsing, and a
 *   listing of keys with their types, defaults and bounds.
 * - byol_net (byol_net.h): a network (ResNets as in torchvision, a small
 *   CNN, MLP heads, or your own layers from a byol_builder) with exact
 *   forward and backward passes, flat parameter/gradient/state buffers, and
 *   safetensors weight files that torchvision loads.
 * - byol_trainer (byol_trainer.h): the online and target networks, the
 *   optimizer and the schedules; byol_trainer_step() does one BYOL step, and
 *   the same step in parts serves custom loops; checkpoints resume bit for bit.
 * - byol_dataset, byol_augmenter, byol_loader (byol_data.h): image folders,
 *   IDX and CIFAR files or caller memory, BYOL's two augmentation pipelines,
 *   and worker threads handing out batches of two views.
 * - evaluation (byol_eval.h): byol_embed_dataset(), weighted k-NN and a
 *   linear probe on frozen embeddings.
 * - byol_file (byol_file.h): what a weight file or checkpoint holds
 *   (tensors, metadata, kind) without a net of the right architecture,
 *   checked by the same reader as the loads; safetensors and plain files
 *   written atomically, as the library writes its own.
 *
 * Conventions that hold everywhere (byol_common.h):
 * - Fallible calls return BYOL_OK (0) or a negative BYOL_E_* code;
 *   byol_last_error() names what went wrong (a file, a key, a shape),
 *   byol_strerror() says what the code means and byol_error_name() how it
 *   is spelled ("BYOL_E_FORMAT").
 * - The library never prints, exits or aborts. A failed call leaves every
 *   handle usable: a failed load changes no weights, a failed save keeps
 *   the previous file.
 * - Ownership is stated on every call: "borrowed for the call", "borrowed
 *   until the handle is destroyed", or "owned by the caller" (free it with
 *   the matching destroy call or byol_free()).
 * - A handle is used by one thread at a time. The "threads" key sets how
 *   many cores one handle uses, for libbyol's loops and the BLAS together.
 *
 * @section example A minimal example
 * @code
 * #include <byol/byol.h>
 *
 * byol_config *cfg = NULL;
 * byol_net *net = NULL;
 * int rc = byol_config_create(&cfg);
 * if (rc == BYOL_OK) rc = byol_config_parse(cfg, "net.arch=cnn-small threads=2");
 * if (rc == BYOL_OK) rc = byol_net_create(cfg, &net);
 * if (rc == BYOL_OK) rc = byol_net_plan(net, 32);
 *
 * float x[32 * 1 * 28 * 28] = {0}, y[32 * 128], dy[32 * 128] = {0};
 * byol_tensor tx = {sizeof(byol_tensor), 4, {32, 1, 28, 28}, x};
 * byol_tensor ty = {sizeof(byol_tensor), 2, {32, 128}, y};
 * byol_tensor tdy = {sizeof(byol_tensor), 2, {32, 128}, dy};
 * if (rc == BYOL_OK) rc = byol_net_forward(net, &tx, &ty);   // training mode
 * if (rc == BYOL_OK) rc = byol_net_backward(net, &tdy, NULL); // grads += ...
 * if (rc == BYOL_OK) rc = byol_net_save(net, "encoder.safetensors");
 * if (rc != BYOL_OK)
 *     fprintf(stderr, "%s: %s\n", byol_strerror(rc), byol_last_error());
 * byol_net_destroy(net);
 * byol_config_destroy(cfg);
 * @endcode
 */
#ifndef BYOL_H
#define BYOL_H

#include "byol_common.h"
#include "byol_config.h"
#include "byol_net.h"
#include "byol_trainer.h"
#include "byol_data.h"
#include "byol_eval.h"
#include "byol_file.h"

#endif
