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
    { "data.channels", I, "3", NULL, 1, 3,
      "channels images are converted to: 1 (gray) or 3 (RGB)" },
    { "data.max_pixels", I, "100000000", NULL, 1, 1099511627776.0,
      "images with more pixels are refused before decoding (decompression bombs)" },
    { "data.format", S, "auto", "auto|folder|idx|cifar", 0, 0,
      "dataset layout for byol_dataset_open; auto decides by what the path holds" },
    { "data.labels", S, "", NULL, 0, 0,
      "IDX label file; empty = the images file's sibling (labels-idx1 for images-idx3)" },
    { "data.split", S, "train", "train|test", 0, 0,
      "which files of an MNIST or CIFAR directory to open" },
    { "data.cifar_labels", S, "fine", "fine|coarse", 0, 0, "CIFAR-100: fine or coarse labels" },
    { "augment.size", I, "224", NULL, 1, 8192, "output height and width of every view" },
    { "augment.interpolation", S, "bicubic", "bicubic|bilinear", 0, 0,
      "resampling of the resized crop" },
    { "augment.crop", S, "reference", "reference|torchvision", 0, 0,
      "crop draw: reference (one draw, clamped to the image) or torchvision (10 tries, "
      "then a centre crop)" },
    { "augment.jitter", S, "tf", "tf|torchvision", 0, 0,
      "colour jitter math: tf (the reference: additive brightness, per-channel contrast "
      "mean, HSV saturation) or torchvision (multiplicative, gray-mean contrast, blends)" },
    { "augment.blur_taps", I, "0", NULL, 0, 1001,
      "Gaussian blur taps; 0 = the reference's 2*floor(size/20)+1 (23 at 224, 3 at 32)" },
    { "augment.mean", S, "0.485,0.456,0.406", NULL, 0, 0,
      "per-channel mean subtracted last, one value per channel (ImageNet's by default)" },
    { "augment.std", S, "0.229,0.224,0.225", NULL, 0, 0,
      "per-channel standard deviation divided last, one value per channel" },
    { "augment.eval_crop", F, "0.875", NULL, 0.01, 1,
      "evaluation: centre crop fraction (resize the shorter side to size/eval_crop)" },
    { "augment.view1.crop_area_min", F, "0.08", NULL, 1e-06, 1,
      "view 1: random resized crop, smallest area fraction" },
    { "augment.view2.crop_area_min", F, "0.08", NULL, 1e-06, 1,
      "view 2: random resized crop, smallest area fraction" },
    { "augment.view1.crop_area_max", F, "1", NULL, 1e-06, 1,
      "view 1: random resized crop, largest area fraction" },
    { "augment.view2.crop_area_max", F, "1", NULL, 1e-06, 1,
      "view 2: random resized crop, largest area fraction" },
    { "augment.view1.crop_ratio_min", F, "0.75", NULL, 0.001, 1000.0,
      "view 1: random resized crop, smallest aspect ratio w/h" },
    { "augment.view2.crop_ratio_min", F, "0.75", NULL, 0.001, 1000.0,
      "view 2: random resized crop, smallest aspect ratio w/h" },
    { "augment.view1.crop_ratio_max", F, "1.3333333333333333", NULL, 0.001, 1000.0,
      "view 1: random resized crop, largest aspect ratio w/h" },
    { "augment.view2.crop_ratio_max", F, "1.3333333333333333", NULL, 0.001, 1000.0,
      "view 2: random resized crop, largest aspect ratio w/h" },
    { "augment.view1.flip_p", F, "0.5", NULL, 0, 1,
      "view 1: probability of a horizontal flip" },
    { "augment.view2.flip_p", F, "0.5", NULL, 0, 1,
      "view 2: probability of a horizontal flip" },
    { "augment.view1.jitter_p", F, "0.8", NULL, 0, 1,
      "view 1: probability of colour jitter" },
    { "augment.view2.jitter_p", F, "0.8", NULL, 0, 1,
      "view 2: probability of colour jitter" },
    { "augment.view1.brightness", F, "0.4", NULL, 0, 1,
      "view 1: jitter brightness strength (tf: additive delta in [-b, b])" },
    { "augment.view2.brightness", F, "0.4", NULL, 0, 1,
      "view 2: jitter brightness strength (tf: additive delta in [-b, b])" },
    { "augment.view1.contrast", F, "0.4", NULL, 0, 1,
      "view 1: jitter contrast strength (factor in [1-c, 1+c])" },
    { "augment.view2.contrast", F, "0.4", NULL, 0, 1,
      "view 2: jitter contrast strength (factor in [1-c, 1+c])" },
    { "augment.view1.saturation", F, "0.2", NULL, 0, 1,
      "view 1: jitter saturation strength (factor in [1-s, 1+s])" },
    { "augment.view2.saturation", F, "0.2", NULL, 0, 1,
      "view 2: jitter saturation strength (factor in [1-s, 1+s])" },
    { "augment.view1.hue", F, "0.1", NULL, 0, 0.5,
      "view 1: jitter hue strength (shift in [-h, h] of the hue circle)" },
    { "augment.view2.hue", F, "0.1", NULL, 0, 0.5,
      "view 2: jitter hue strength (shift in [-h, h] of the hue circle)" },
    { "augment.view1.gray_p", F, "0.2", NULL, 0, 1,
      "view 1: probability of grayscale (after jitter)" },
    { "augment.view2.gray_p", F, "0.2", NULL, 0, 1,
      "view 2: probability of grayscale (after jitter)" },
    { "augment.view1.blur_p", F, "1", NULL, 0, 1,
      "view 1: probability of Gaussian blur" },
    { "augment.view2.blur_p", F, "0.1", NULL, 0, 1,
      "view 2: probability of Gaussian blur" },
    { "augment.view1.blur_sigma_min", F, "0.1", NULL, 0.001, 100,
      "view 1: smallest blur sigma in pixels" },
    { "augment.view2.blur_sigma_min", F, "0.1", NULL, 0.001, 100,
      "view 2: smallest blur sigma in pixels" },
    { "augment.view1.blur_sigma_max", F, "2", NULL, 0.001, 100,
      "view 1: largest blur sigma in pixels" },
    { "augment.view2.blur_sigma_max", F, "2", NULL, 0.001, 100,
      "view 2: largest blur sigma in pixels" },
    { "augment.view1.solarize_p", F, "0", NULL, 0, 1,
      "view 1: probability of solarisation" },
    { "augment.view2.solarize_p", F, "0.2", NULL, 0, 1,
      "view 2: probability of solarisation" },
    { "augment.view1.solarize_threshold", F, "0.5", NULL, 0, 1,
      "view 1: solarisation threshold: x >= t becomes 1 - x" },
    { "augment.view2.solarize_threshold", F, "0.5", NULL, 0, 1,
      "view 2: solarisation threshold: x >= t becomes 1 - x" },
    { "eval.knn_k", I, "200", NULL, 1, 1000000, "k-NN: neighbours that vote" },
    { "eval.knn_temperature", F, "0.1", NULL, 1e-6, 1e6,
      "k-NN: a neighbour's vote is exp(cosine similarity / temperature)" },
    { "eval.probe_epochs", I, "30", NULL, 1, 100000, "linear probe: epochs over the training rows" },
    { "eval.probe_lr", F, "0.1", NULL, 0, 1e6, "linear probe: peak learning rate (cosine to 0)" },
    { "eval.probe_batch", I, "256", NULL, 1, 1 << 24, "linear probe: mini-batch size" },
    { "eval.probe_weight_decay", F, "0", NULL, 0, 10, "linear probe: weight decay on the weights" },
    { "loader.workers", I, "2", NULL, 1, 256, "threads that decode and augment ahead" },
    { "loader.prefetch", I, "2", NULL, 1, 256, "batches prepared ahead of the consumer" },
    { "loader.shuffle", B, "1", NULL, 0, 1, "training: a new order every epoch (from seed)" },
    { "loader.drop_last", B, "1", NULL, 0, 1, "training: drop the last incomplete batch" },
    { "loader.on_error", S, "stop", "stop|skip", 0, 0,
      "a bad sample stops its batch with an error, or is skipped and counted" },
};
const int32_t byol__nkeys = (int32_t)(sizeof byol__keys / sizeof byol__keys[0]);

const byol__preset byol__presets[] = {
    /* The paper: ResNet-50, LARS base lr 0.2 at batch 4096, wd 1.5e-6, tau 0.996. */
    { "imagenet", "net.arch=resnet50 net.image_size=224 train.batch_size=4096 optim.name=lars "
                  "optim.lr=0.2 optim.weight_decay=1.5e-6 optim.eta=0.001 optim.clip_lr=0 "
                  "ema.tau_base=0.996 byol.proj_hidden=4096 byol.proj_out=256 "
                  "byol.pred_hidden=4096 data.channels=3 augment.size=224 "
                  "augment.interpolation=bicubic augment.eval_crop=0.875 "
                  "augment.view1.blur_p=1 augment.view2.blur_p=0.1 "
                  "augment.view1.solarize_p=0 augment.view2.solarize_p=0.2 "
                  "augment.mean=\"0.485,0.456,0.406\" augment.std=\"0.229,0.224,0.225\"" },
    /* solo-learn's CIFAR recipe: LARS lr 1.0 at 256, eta 0.02, clipped, wd 1e-5, tau 0.99. */
    { "cifar10", "net.arch=resnet18-cifar net.image_size=32 train.batch_size=256 optim.name=lars "
                 "optim.lr=1.0 optim.weight_decay=1e-5 optim.eta=0.02 optim.clip_lr=1 "
                 "ema.tau_base=0.99 byol.proj_hidden=4096 byol.proj_out=256 "
                 "byol.pred_hidden=4096 data.channels=3 augment.size=32 "
                 "augment.interpolation=bicubic augment.eval_crop=1 "
                 "augment.view1.blur_p=0 augment.view2.blur_p=0 "
                 "augment.view1.solarize_p=0 augment.view2.solarize_p=0.2 "
                 "augment.mean=\"0.4914,0.4822,0.4465\" augment.std=\"0.2470,0.2435,0.2616\"" },
    /* Small and fast: cnn-small with narrow heads for minutes on 2 cores.
     * AdamW, not LARS: at 2.0 with no warmup LARS moved the weights by 68 %
     * in 50 steps and k-NN accuracy did not rise within 300 steps; AdamW
     * 0.002 with 50 warmup steps and brightness/contrast jitter took the
     * full-protocol k-NN from 0.753 (initialisation) to 0.791 and the
     * linear probe from 0.828 to 0.851 in 509 steps of a 1400-step run. */
    { "fashion-mnist", "net.arch=cnn-small net.image_size=28 train.batch_size=256 "
                       "optim.name=adamw optim.lr=0.002 optim.weight_decay=1e-4 "
                       "train.warmup_steps=50 ema.tau_base=0.99 byol.proj_hidden=512 "
                       "byol.proj_out=128 byol.pred_hidden=512 data.channels=1 "
                       "augment.size=28 augment.eval_crop=1 augment.mean=\"0.2860\" "
                       "augment.std=\"0.3530\" augment.view1.jitter_p=0.8 augment.view2.jitter_p=0.8 "
                       "augment.view1.gray_p=0 augment.view2.gray_p=0 augment.view1.blur_p=0 "
                       "augment.view2.blur_p=0 augment.view1.solarize_p=0 "
                       "augment.view2.solarize_p=0.2 augment.view1.crop_area_min=0.2 "
                       "augment.view2.crop_area_min=0.2" },
    { NULL, NULL },
};
