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
};
const int32_t byol__nkeys = (int32_t)(sizeof byol__keys / sizeof byol__keys[0]);

const byol__preset byol__presets[] = {
    { "imagenet", "net.arch=resnet50 net.image_size=224" },
    { "cifar10", "net.arch=resnet18-cifar net.image_size=32" },
    { "fashion-mnist", "net.arch=cnn-small net.image_size=28" },
    { NULL, NULL },
};
