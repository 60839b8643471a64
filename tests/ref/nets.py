"""PyTorch definitions of the networks libbyol implements.

Why: the fixtures (gen_net_fixtures.py), the torchvision round trip and the
benchmark peer (bench/torch_peer.py) must all use exactly the topology and
state_dict names that libbyol reproduces, so they are defined once here.

  * resnet18_cifar(width): torchvision's resnet18 topology (BasicBlock,
    layers (2,2,2,2), same module names) with channels int(64*w),
    int(128*w), int(256*w), int(512*w); a 3x3/1 stem conv without max-pool;
    no fc. Output [N, int(512*w)]. Convs use torchvision's ResNet init
    (kaiming_normal_, fan_out, relu), BN weight 1 / bias 0.
  * cnn_small(): 1x28x28 input, three conv3x3(bias=False)-BN-ReLU stages
    (32, 64, 128 channels), max-pool 2x2 after the first two, global average
    pool. Output [N, 128]. Convs use PyTorch's default Conv2d init.
  * resnet18(num_classes): torchvision.models.resnet18 itself.

BatchNorm is nn.BatchNorm2d with PyTorch's defaults (eps 1e-5, momentum 0.1).
"""

import torch
from torch import nn
from torchvision.models import resnet as tv_resnet


class ResNetCifar(nn.Module):
    """torchvision's ResNet-18 with a CIFAR stem and a channel width multiplier."""

    def __init__(self, width=1.0):
        super().__init__()
        chans = [int(64 * width), int(128 * width), int(256 * width), int(512 * width)]
        self.out_features = chans[3]
        self.inplanes = chans[0]
        self.conv1 = nn.Conv2d(3, chans[0], kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(chans[0])
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(chans[0], 2, stride=1)
        self.layer2 = self._make_layer(chans[1], 2, stride=2)
        self.layer3 = self._make_layer(chans[2], 2, stride=2)
        self.layer4 = self._make_layer(chans[3], 2, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(self, planes, blocks, stride):
        """One stage of BasicBlocks, with torchvision's downsample rule."""
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )
        layers = [tv_resnet.BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        for _ in range(1, blocks):
            layers.append(tv_resnet.BasicBlock(planes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)


class CnnSmall(nn.Module):
    """Three conv-BN-ReLU stages for 1x28x28 images, global average pooled."""

    out_features = 128

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.conv3 = nn.Conv2d(64, 128, 3, 1, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(128)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x):
        x = self.pool(self.relu(self.bn1(self.conv1(x))))
        x = self.pool(self.relu(self.bn2(self.conv2(x))))
        x = self.relu(self.bn3(self.conv3(x)))
        return torch.flatten(x.mean(dim=(2, 3), keepdim=True), 1)


def resnet18_cifar(width=1.0):
    """The `resnet18-cifar` encoder at width multiplier `width`."""
    return ResNetCifar(width)


def cnn_small():
    """The `cnn-small` encoder for 1x28x28 inputs."""
    return CnnSmall()


def resnet18(num_classes=1000):
    """The `resnet18` network: torchvision's own, untouched."""
    return tv_resnet.resnet18(num_classes=num_classes)


def resnet50_encoder():
    """The `resnet50` encoder: torchvision's resnet50 with its fc taken
    out, so the output is the 2048 pooled features."""
    model = tv_resnet.resnet50()
    model.fc = nn.Identity()
    model.out_features = 2048
    return model


def build(name, width=1.0):
    """Builds a network by libbyol arch name ("resnet18-cifar", "cnn-small")
    or fixture name ("resnet18_cifar", "cnn_small"); returns (model, input CHW).
    "resnet50" is the encoder without a classifier."""
    key = name.replace("-", "_")
    if key == "resnet18_cifar":
        return resnet18_cifar(width), (3, 32, 32)
    if key == "cnn_small":
        return cnn_small(), (1, 28, 28)
    if key == "resnet18":
        return resnet18(), (3, 224, 224)
    if key == "resnet50":
        return resnet50_encoder(), (3, 224, 224)
    raise ValueError(f"unknown network {name!r}")
