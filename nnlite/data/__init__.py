"""Data sets: the built-in bitmaps, the IDX family (MNIST, Fashion-MNIST, KMNIST, EMNIST), CIFAR, and
folders of your own images; one registry (:func:`load_dataset`) names them all for the command line.

Every reader is bounded by what its format allows, so a damaged or hostile file fails with a
:class:`DatasetError` naming it instead of taking the machine's memory.
"""
from .batches import Minibatches, iterate_minibatches
from .bitmaps import load_emoji12, load_font5x7
from .cifar import CIFAR10_CLASSES, cifar10_class_names, cifar100_class_names, load_cifar10, load_cifar100
from .errors import DatasetError
from .folder import load_image_folder
from .idx import (
                  FASHION_MNIST_CLASSES,
                  KMNIST_CLASSES,
                  load_emnist,
                  load_fashion_mnist,
                  load_kmnist,
                  load_mnist,
                  read_idx,
)
from .registry import DATASETS, Dataset, load_dataset

__all__ = ["load_font5x7", "load_emoji12", "read_idx", "load_mnist", "load_fashion_mnist", "load_kmnist",
           "load_emnist", "FASHION_MNIST_CLASSES", "KMNIST_CLASSES", "load_cifar10", "load_cifar100",
           "cifar10_class_names", "cifar100_class_names", "CIFAR10_CLASSES", "load_image_folder",
           "iterate_minibatches", "Minibatches", "DatasetError", "DATASETS", "Dataset", "load_dataset"]
