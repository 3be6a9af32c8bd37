from .bitmaps import load_emoji12, load_font5x7  # noqa: F401  (issue 3: the hand-drawn bitmaps)
from .errors import DatasetError  # noqa: F401  (issue 4: real datasets)
from .idx import read_idx, load_mnist, load_fashion_mnist, load_kmnist, load_emnist  # noqa: F401
from .idx import FASHION_MNIST_CLASSES, KMNIST_CLASSES  # noqa: F401
from .cifar import load_cifar10, load_cifar100, cifar10_class_names, cifar100_class_names, CIFAR10_CLASSES  # noqa: F401
from .folder import load_image_folder  # noqa: F401
from .batches import iterate_minibatches, Minibatches  # noqa: F401
from .registry import DATASETS, Dataset, load_dataset  # noqa: F401
