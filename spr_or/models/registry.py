"""Model registry (timm-style): ``create_model(name, num_classes)``; adding a model is one function
and one line in MODELS."""

from __future__ import annotations

from torch import nn

from spr_core.errors import InvalidArgument

from .cifar_resnet import CifarResNet
from .small_models import ResNet1d, digits_cnn


def _cifar_torchvision_resnet(builder, num_classes: int) -> nn.Module:
    """torchvision ResNet adapted to 32x32 inputs: 3x3 stride-1 stem, no max-pool."""
    model = builder(weights=None, num_classes=num_classes)
    model.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    model.maxpool = nn.Identity()
    return model


VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def _cifar_vgg16_bn(num_classes: int) -> nn.Module:
    """VGG-16 with BatchNorm for 32x32 inputs (13 conv layers, 512 -> num_classes classifier)."""
    layers, channels = [], 3
    for item in VGG16_CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(channels, item, 3, padding=1), nn.BatchNorm2d(item), nn.ReLU(inplace=True)]
            channels = item
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512, num_classes))


def _torchvision(name):
    import torchvision.models as tvm

    return getattr(tvm, name)


MODELS = {
    **{f"resnet{d}": (lambda d: lambda nc: CifarResNet(d, nc))(d) for d in (20, 32, 44, 56, 110)},
    "resnet18_cifar": lambda nc: _cifar_torchvision_resnet(_torchvision("resnet18"), nc),
    "resnet50_cifar": lambda nc: _cifar_torchvision_resnet(_torchvision("resnet50"), nc),
    "vgg16_bn_cifar": _cifar_vgg16_bn,
    "resnet18_imagenet": lambda nc: _torchvision("resnet18")(weights=None, num_classes=nc),
    "resnet1d_mnist1d": ResNet1d,
    "cnn_digits": digits_cnn,
}

#: the input shape (without the batch dimension) each model expects by default
INPUT_SHAPES = {
    **{name: (3, 32, 32) for name in MODELS if name != "resnet18_imagenet"},
    "resnet18_imagenet": (3, 224, 224),
    "resnet1d_mnist1d": (1, 40),
    "cnn_digits": (1, 8, 8),
}


def create_model(name: str, num_classes: int = 10) -> nn.Module:
    """A fresh (randomly initialised) model from the registry; no weights are downloaded.

    Parameters
    ----------
    name : str
        One of MODELS (its input shape is INPUT_SHAPES[name]).
    num_classes : int
        Outputs of the classifier, >= 2.

    Returns
    -------
    nn.Module
    """
    if name not in MODELS:
        raise InvalidArgument(f"name must be one of {sorted(MODELS)}; got {name!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise InvalidArgument(f"num_classes must be an integer >= 2; got {num_classes!r}")
    return MODELS[name](num_classes)
