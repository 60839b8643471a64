/* The table of configuration keys (core/config_keys.def) and the presets. */
#include "config.h"

#define I BYOL_TYPE_INT
#define F BYOL_TYPE_FLOAT
#define S BYOL_TYPE_STRING
#define B BYOL_TYPE_BOOL

const byol__key byol__keys[BYOL__NKEYS] = {
#define BYOL__KEY(id, name, type, def, choices, min, max, help) \
    { name, type, def, choices, min, max, help },
#include "core/config_keys.def"
#undef BYOL__KEY
};

/* solo-learn's CIFAR recipe: LARS lr 1.0 at 256, eta 0.02, clipped, wd 1e-5
 * (exclude_bias_n_norm: biases and norms get neither it nor LARS), tau 0.99.
 * Colour jitter as torchvision computes it, as solo-learn does: with the
 * reference's TF jitter the same PyTorch step, from the same weights,
 * gained 0.3 k-NN points in 260 steps instead of 2.8 (docs/QUALITY.md). */
#define CIFAR10 "net.arch=resnet18-cifar net.image_size=32 train.batch_size=256 optim.name=lars " \
                "optim.lr=1.0 optim.weight_decay=1e-5 optim.wd_exclude=bias_norm " \
                "optim.eta=0.02 optim.clip_lr=1 " \
                "ema.tau_base=0.99 byol.proj_hidden=4096 byol.proj_out=256 " \
                "byol.pred_hidden=4096 data.channels=3 augment.size=32 " \
                "augment.interpolation=bicubic augment.jitter=torchvision augment.eval_crop=1 " \
                "augment.view1.blur_p=0 augment.view2.blur_p=0 " \
                "augment.view1.solarize_p=0 augment.view2.solarize_p=0.2 " \
                "augment.mean=\"0.4914,0.4822,0.4465\" augment.std=\"0.2470,0.2435,0.2616\""

const byol__preset byol__presets[] = {
    /* The paper: ResNet-50, LARS base lr 0.2 at batch 4096, wd 1.5e-6 (not on
     * biases and norms, which get no trust ratio either), tau 0.996. */
    { "imagenet", "net.arch=resnet50 net.image_size=224 train.batch_size=4096 optim.name=lars "
                  "optim.lr=0.2 optim.weight_decay=1.5e-6 optim.wd_exclude=bias_norm "
                  "optim.eta=0.001 optim.clip_lr=0 "
                  "ema.tau_base=0.996 byol.proj_hidden=4096 byol.proj_out=256 "
                  "byol.pred_hidden=4096 data.channels=3 augment.size=224 "
                  "augment.interpolation=bicubic augment.jitter=tf augment.eval_crop=0.875 "
                  "augment.view1.blur_p=1 augment.view2.blur_p=0.1 "
                  "augment.view1.solarize_p=0 augment.view2.solarize_p=0.2 "
                  "augment.mean=\"0.485,0.456,0.406\" augment.std=\"0.229,0.224,0.225\"" },
    { "cifar10", CIFAR10 },
    /* cifar10 for budgets of minutes to an hour on a few cores: a quarter-width
     * network, 1024-wide heads, SGD. On a validation split (45,000 / 5,000 of
     * the training images, 600 steps) k-NN was 35.5 with this SGD, 34.2 with
     * the cifar10 preset's LARS and 35.9 with AdamW 0.002; the 2x2 grid
     * embedding took SGD's k-NN to 36.8 and its probe from 38.4 to 42.6. */
    { "cifar10-short", CIFAR10 " net.width=0.25 byol.proj_hidden=1024 byol.pred_hidden=1024 "
                       "optim.name=sgd optim.lr=0.05 optim.momentum=0.9 optim.weight_decay=1e-3 "
                       "train.warmup_steps=39 eval.grid=2" },
    /* Small and fast: cnn-small with narrow heads for minutes on 2 cores.
     * AdamW, not LARS: at 2.0 with no warmup LARS moved the weights by 68 %
     * in 50 steps and k-NN accuracy did not rise within 300 steps; AdamW
     * 0.002 with 50 warmup steps and brightness/contrast jitter took the
     * full-protocol k-NN from 0.753 (initialisation) to 0.791 and the
     * linear probe from 0.828 to 0.851 in 509 steps of a 1400-step run,
     * with biases and norms out of the weight decay (set since 1.3's
     * optim.wd_exclude, whose auto now decays them for AdamW).
     * Crops of at least half the image and an evaluation on conv3's map
     * pooled 2x2 (512-d) instead of its global average: on a validation
     * split (50,000 / 10,000 of the training images, 10 epochs) k-NN went
     * from 80.6 to 82.8 and the probe from 86.1 to 90.0, where the raw
     * pixels give 81.5 and 84.7; the global average of a 7x7 map loses
     * the layout that makes pixels strong on this data (docs/QUALITY.md). */
    { "fashion-mnist", "net.arch=cnn-small net.image_size=28 train.batch_size=256 "
                       "optim.name=adamw optim.lr=0.002 optim.weight_decay=1e-4 "
                       "optim.wd_exclude=bias_norm "
                       "train.warmup_steps=50 ema.tau_base=0.99 byol.proj_hidden=512 "
                       "byol.proj_out=128 byol.pred_hidden=512 data.channels=1 "
                       "augment.size=28 augment.eval_crop=1 augment.mean=\"0.2860\" "
                       "augment.std=\"0.3530\" augment.view1.jitter_p=0.8 augment.view2.jitter_p=0.8 "
                       "augment.view1.gray_p=0 augment.view2.gray_p=0 augment.view1.blur_p=0 "
                       "augment.view2.blur_p=0 augment.view1.solarize_p=0 "
                       "augment.view2.solarize_p=0.2 augment.view1.crop_area_min=0.5 "
                       "augment.view2.crop_area_min=0.5 eval.grid=2" },
    { NULL, NULL },
};
