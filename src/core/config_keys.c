/* The table of configuration keys and the presets. Append keys freely:
 * they are looked up by name, so their order is not part of the ABI. */
#include "config.h"

#define I BYOL_TYPE_INT
#define F BYOL_TYPE_FLOAT
#define S BYOL_TYPE_STRING
#define B BYOL_TYPE_BOOL

const byol__key byol__keys[] = {
    { "seed", I, "0", NULL, 0, 9007199254740991.0,
      "seed of every random draw (initialisation, augmentation, shuffling)" },
    { "threads", I, "0", NULL, 0, 1024,
      "cores one handle uses for its loops and the BLAS; 0 = all online cores" },
    { "net.arch", S, "resnet18",
      "resnet18|resnet34|resnet50|resnet18-cifar|resnet50-cifar|cnn-small|mlp", 0, 0,
      "network preset built by byol_net_create" },
    { "net.width", F, "1", NULL, 1.0 / 64, 16,
      "channel multiplier for the ResNets and cnn-small" },
    { "net.in_channels", I, "0", NULL, 0, 4096,
      "input channels; 0 = the architecture's own (3 for ResNets, 1 for cnn-small)" },
    { "net.image_size", I, "0", NULL, 0, 8192,
      "input height and width; 0 = the architecture's own (224, 32 for -cifar, 28 for cnn-small)" },
    { "net.num_classes", I, "0", NULL, 0, 1000000,
      "if > 0, a classifier Linear named fc is appended (torchvision's fc)" },
    { "net.zero_init_residual", B, "0", NULL, 0, 1,
      "initialise the last BatchNorm scale of each residual block to zero" },
    { "net.init", S, "torchvision", "torchvision|haiku", 0, 0,
      "initialiser: torchvision (kaiming fan_out for convs) or haiku (truncated normal 1/sqrt(fan_in))" },
    { "net.bn_eps", F, "1e-05", NULL, 0, 1, "BatchNorm epsilon" },
    { "net.bn_momentum", F, "0.1", NULL, 0, 1,
      "BatchNorm running-average momentum (PyTorch convention: new = (1-m) old + m batch)" },
    { "net.bn_running_var", S, "unbiased", "unbiased|biased", 0, 0,
      "variance fed to the running average: unbiased (PyTorch) or biased (Haiku)" },
    { "net.mlp.in", I, "512", NULL, 1, 1 << 24, "mlp: input features" },
    { "net.mlp.hidden", I, "4096", NULL, 1, 1 << 24, "mlp: hidden features" },
    { "net.mlp.out", I, "256", NULL, 1, 1 << 24, "mlp: output features" },
    { "net.mlp.layers", I, "2", NULL, 1, 16, "mlp: number of Linear layers" },
    { "net.mlp.batchnorm", B, "1", NULL, 0, 1, "mlp: BatchNorm after each hidden Linear" },
    { "net.mlp.bias", S, "hidden", "hidden|all|none|last", 0, 0,
      "mlp: which Linear layers have a bias; hidden = all but the last (the reference)" },
    { "train.batch_size", I, "256", NULL, 2, 1 << 20,
      "samples per view in one optimizer step (also scales the learning rate by batch/256)" },
    { "train.total_steps", I, "1000", NULL, 1, 1e15,
      "optimizer steps K over which the lr and tau schedules run" },
    { "train.warmup_steps", I, "0", NULL, 0, 1e15, "linear warmup steps W of the learning rate" },
    { "optim.name", S, "lars", "lars|sgd|adamw", 0, 0,
      "optimizer: lars (the reference), sgd (momentum, optionally Nesterov), adamw" },
    { "optim.lr", F, "0.2", NULL, 0, 1e6, "base learning rate, scaled by train.batch_size/256" },
    { "optim.weight_decay", F, "1.5e-06", NULL, 0, 10,
      "weight decay (coupled for lars/sgd, decoupled for adamw); never on biases and BatchNorm" },
    { "optim.momentum", F, "0.9", NULL, 0, 1, "momentum of lars and sgd" },
    { "optim.eta", F, "0.001", NULL, 0, 1e3, "LARS trust coefficient" },
    { "optim.clip_lr", B, "0", NULL, 0, 1, "LARS: clip the trust ratio by lr (solo-learn's variant)" },
    { "optim.nesterov", B, "0", NULL, 0, 1, "sgd: Nesterov momentum" },
    { "optim.beta1", F, "0.9", NULL, 0, 0.999999, "adamw beta1" },
    { "optim.beta2", F, "0.999", NULL, 0, 0.999999999, "adamw beta2" },
    { "optim.eps", F, "1e-08", NULL, 1e-30, 1, "adamw epsilon" },
    { "ema.tau_base", F, "0.996", NULL, 0, 1, "base EMA decay of the target, raised to 1 by a cosine" },
    { "byol.proj_hidden", I, "4096", NULL, 1, 1 << 20, "projector hidden width" },
    { "byol.proj_out", I, "256", NULL, 1, 1 << 20, "projection (and prediction) size" },
    { "byol.pred_hidden", I, "4096", NULL, 1, 1 << 20, "predictor hidden width" },
    { "byol.head_batchnorm", B, "1", NULL, 0, 1,
      "BatchNorm after the hidden Linear of projector and predictor (the reference: on)" },
    { "byol.mode", S, "byol", "byol|simsiam", 0, 0,
      "byol: EMA target network; simsiam: no target, the online projection under a "
      "stop-gradient is the target" },
    { "byol.target_init", S, "copy", "copy|independent", 0, 0,
      "target starts as a copy of the online network (PyTorch libraries) or independently "
      "initialised (the reference)" },
};
const int32_t byol__nkeys = (int32_t)(sizeof byol__keys / sizeof byol__keys[0]);

const byol__preset byol__presets[] = {
    /* The paper: ResNet-50, LARS base lr 0.2 at batch 4096, wd 1.5e-6, tau 0.996. */
    { "imagenet", "net.arch=resnet50 net.image_size=224 train.batch_size=4096 optim.name=lars "
                  "optim.lr=0.2 optim.weight_decay=1.5e-6 optim.eta=0.001 optim.clip_lr=0 "
                  "ema.tau_base=0.996 byol.proj_hidden=4096 byol.proj_out=256 "
                  "byol.pred_hidden=4096" },
    /* solo-learn's CIFAR recipe: LARS lr 1.0 at 256, eta 0.02, clipped, wd 1e-5, tau 0.99. */
    { "cifar10", "net.arch=resnet18-cifar net.image_size=32 train.batch_size=256 optim.name=lars "
                 "optim.lr=1.0 optim.weight_decay=1e-5 optim.eta=0.02 optim.clip_lr=1 "
                 "ema.tau_base=0.99 byol.proj_hidden=4096 byol.proj_out=256 "
                 "byol.pred_hidden=4096" },
    /* Small and fast: cnn-small with narrow heads for minutes on 2 cores. */
    { "fashion-mnist", "net.arch=cnn-small net.image_size=28 train.batch_size=256 "
                       "optim.name=lars optim.lr=2.0 optim.weight_decay=1e-5 optim.eta=0.02 "
                       "optim.clip_lr=1 ema.tau_base=0.99 byol.proj_hidden=512 "
                       "byol.proj_out=128 byol.pred_hidden=512" },
    { NULL, NULL },
};
