"""Model zoo: the notes' networks, torchvision-exact constructors and their digit variants.

- ``LeNet5``, ``SimpleCNN``, ``DeepCNN``, ``ResNet`` (models.notes): the course's networks.
- ``alexnet``, ``vgg11``, ``vgg16``, ``vgg11_bn``, ``googlenet``, ``resnet18``, ``resnet34``,
  ``densenet121``: torchvision 0.28's models (weights=None) with identical state-dict keys,
  order and shapes, so weights load in both directions.
- ``get_model(name)``: the command line's models for 1x28x28 digits, including the gallery's
  digit variants (models.digits).
"""
from tinygrad_cnn.models.alexnet import AlexNet, alexnet  # noqa: F401
from tinygrad_cnn.models.densenet import DenseNet, densenet121  # noqa: F401
from tinygrad_cnn.models.digits import DIGIT_MODELS, GoogLeNetDigits  # noqa: F401
from tinygrad_cnn.models.googlenet import GoogLeNet, GoogLeNetOutputs, googlenet  # noqa: F401
from tinygrad_cnn.models.notes import (  # noqa: F401
    DeepCNN, LeNet5, ResidualBlock, ResNet, SimpleCNN,
)
from tinygrad_cnn.models.resnet import PreActResNet, resnet18, resnet34  # noqa: F401
from tinygrad_cnn.models.vgg import VGG, vgg11, vgg11_bn, vgg16  # noqa: F401

MODELS = {"lenet5": LeNet5, "simple-cnn": SimpleCNN, "deep-cnn": DeepCNN, "resnet": ResNet,
          **DIGIT_MODELS}

TORCHVISION_MODELS = {"alexnet": alexnet, "vgg11": vgg11, "vgg16": vgg16, "vgg11_bn": vgg11_bn,
                      "googlenet": googlenet, "resnet18": resnet18, "resnet34": resnet34,
                      "densenet121": densenet121}


def get_model(name, **kwargs):
    """A 1x28x28 digit model by its command-line name (``MODELS``' keys)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](**kwargs)


# using a trained model: rebuild it from a checkpoint and classify images (predict.py)
from tinygrad_cnn.predict import classify, load_trained, predict_files  # noqa: E402,F401
