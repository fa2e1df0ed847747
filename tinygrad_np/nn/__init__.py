"""Neural-network building blocks: ``Module`` and its layers, initializers, and ``functional``.

    >>> from tinygrad_np import nn
    >>> model = nn.Sequential(nn.Linear(4, 8, rng=0), nn.ReLU(), nn.Linear(8, 3, rng=1))
    >>> [name for name, _ in model.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
"""
from . import functional, init
from .layers import Dropout, Flatten, Identity, LeakyReLU, Linear, ReLU, Sigmoid, Tanh
from .module import IncompatibleKeys, Module, Parameter, Sequential, StateDictKeyError, swap_parameters
from .conv import AvgPool2d, Conv1d, Conv2d, MaxPool2d  # CNN family
from .norm import BatchNorm1d, BatchNorm2d, LayerNorm  # CNN family

F = functional

__all__ = [
    "functional", "F", "init", "Parameter", "Module", "Sequential", "Linear", "ReLU", "Tanh", "Sigmoid",
    "LeakyReLU", "Dropout", "Flatten", "Identity", "IncompatibleKeys", "StateDictKeyError", "swap_parameters",
    # CNN family
    "Conv1d", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm",
]
