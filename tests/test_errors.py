"""What a user gets wrong gets a message they can act on: hyper-parameters out of range raise ValueError
naming the argument, the value that arrived and what is allowed; unknown names list the valid ones.

One table across the package's public constructors and functions. Each row is (call, regex the message
must match); the regexes require the argument's name AND the bad value AND the allowed range or names.
"""
import numpy as np
import pytest

import nnlite
from nnlite import losses, noise, optim

_m = nnlite.Linear(2, 2, random_state=0)
_x = np.zeros((3, 4), np.float32)
_rng = np.random.default_rng(0)

CORE = {
    # layers
    "Linear n_in": (lambda: nnlite.Linear(0, 2), r"Linear: n_in must be an int >= 1, got 0"),
    "Linear n_out": (lambda: nnlite.Linear(2, -1), r"n_out must be an int >= 1, got -1"),
    "Linear float size": (lambda: nnlite.Linear(2.5, 2), r"n_in must be an int >= 1, got 2.5"),
    "Linear bool size": (lambda: nnlite.Linear(True, 2), r"Linear: n_in must be an int >= 1, got True"),
    "BatchNorm eps inf": (lambda: nnlite.BatchNorm2d(4, eps=float("inf")), r"BatchNorm2d: eps must be a finite number > 0"),
    "Dropout p high": (lambda: nnlite.Dropout(1.5), r"Dropout: p must be in \[0, 1\), got 1.5"),
    "Dropout p low": (lambda: nnlite.Dropout(-0.1), r"p must be in \[0, 1\), got -0.1"),
    "LeakyReLU slope": (lambda: nnlite.LeakyReLU(-1), r"negative_slope must be a finite number >= 0, got -1"),
    "ELU alpha": (lambda: nnlite.ELU(-1), r"ELU: alpha must be a finite number > 0, got -1"),
    "LeakyReLU slope as text": (lambda: nnlite.LeakyReLU("0.2"), r"negative_slope must be a finite number >= 0, got '0.2'"),
    "ELU alpha as a bool": (lambda: nnlite.ELU(True), r"ELU: alpha must be a finite number > 0, got True"),
    "Reshape": (lambda: nnlite.Reshape((-2,)), r"Reshape: every target size must be >= 1, got \(-2,\)"),
    # optimizers
    "SGD lr": (lambda: optim.SGD(_m, lr=-1), r"SGD: lr must be a finite number > 0, got -1"),
    "Adam lr nan": (lambda: optim.Adam(_m, lr=float("nan")), r"Adam: lr must be a finite number > 0, got nan"),
    "Adam beta": (lambda: optim.Adam(_m, betas=(1.0, 0.9)), r"beta parameter at index 0 must be a number in \[0, 1\), got 1.0"),
    "RMSprop alpha": (lambda: optim.RMSprop(_m, alpha=2), r"RMSprop: alpha must be a number in \[0, 1\), got 2"),
    "SGD momentum": (lambda: optim.SGD(_m, momentum=-0.5), r"momentum must be a finite number >= 0, got -0.5"),
    "optimizer name": (lambda: optim.get_optimizer("adamm", _m.parameters()),
                       r"unknown optimizer 'adamm'; valid names: \['adam', 'adamw', 'rmsprop', 'sgd'\]"),
    # losses
    "loss reduction": (lambda: losses.MSELoss(reduction="avg"), r"reduction must be one of \('mean', 'sum'\), got 'avg'"),
    "loss name": (lambda: losses.get_loss("msee"), r"unknown loss 'msee'; valid names: \[.*'mse'"),
    # trainer, callbacks, random
    "Trainer batch_size": (lambda: nnlite.Trainer(_m, optim.SGD(_m), loss=losses.MSELoss(), batch_size=0),
                           r"batch_size must be an int >= 1, got 0"),
    "Trainer epochs": (lambda: nnlite.Trainer(_m, optim.SGD(_m), loss=losses.MSELoss(), epochs=-1),
                       r"epochs must be an int >= 0, got -1"),
    "random_state": (lambda: nnlite.as_generator(-1), r"random_state must be a non-negative int, got -1"),
    "ModelCheckpoint": (lambda: nnlite.ModelCheckpoint("c.npz", every_epochs=0),
                        r"every_epochs must be an int >= 1 or None, got 0"),
    "EarlyStopping": (lambda: nnlite.EarlyStopping(patience=-2), r"patience must be an int >= 0, got -2"),
    # noise
    "salt_and_pepper p": (lambda: noise.salt_and_pepper(_x, 1.5, _rng), r"salt_and_pepper: p must be in \[0, 1\], got 1.5"),
    "gaussian sigma": (lambda: noise.gaussian(_x, -1, _rng), r"gaussian: sigma must be a finite number >= 0, got -1"),
    "masking p": (lambda: noise.masking(_x, -0.1, _rng), r"masking: p must be in \[0, 1\], got -0.1"),
    "bit_flip p": (lambda: noise.bit_flip(_x, 2, _rng), r"bit_flip: p must be in \[0, 1\], got 2"),
    "noise name": (lambda: noise.get_noise("foo"), r"unknown noise 'foo'; valid names are: bit_flip, gaussian, masking"),
    # metrics, init
    "psnr data_range": (lambda: nnlite.metrics.psnr(_x, _x, data_range=-1), r"data_range must be a positive number.*got -1"),
    "psnr shapes": (lambda: nnlite.metrics.psnr(_x, _x[:2]), r"same shape, got clean \(3, 4\) and estimate \(2, 4\)"),
    "init gain": (lambda: nnlite.init.calculate_gain("foo"), r"unknown nonlinearity 'foo'; valid: \[.*'relu'"),
    "init mode": (lambda: nnlite.init.kaiming_uniform((3, 3), mode="x"), r"mode must be 'fan_in' or 'fan_out', got 'x'"),
}


@pytest.mark.parametrize("name", list(CORE))
def test_core_messages(name):
    call, pattern = CORE[name]
    with pytest.raises(ValueError, match=pattern):
        call()


def _data_cases():
    from nnlite import data
    return {
        "load_mnist split": (lambda: data.load_mnist(split="val"), r"split must be 'train' or 'test', got 'val'"),
        "load_cifar10 layout": (lambda: data.load_cifar10(layout="CHW"), r"layout must be 'NCHW' or 'NHWC', got 'CHW'"),
        "minibatches batch_size": (lambda: data.iterate_minibatches(_x, batch_size=0),
                                   r"batch_size must be a positive int, got 0"),
        "image folder mode": (lambda: data.load_image_folder(".", mode="CMYK"), r"mode must be 'L' \(grey\) or 'RGB', got 'CMYK'"),
    }


@pytest.mark.parametrize("name", list(_data_cases()))
def test_data_messages(name):
    call, pattern = _data_cases()[name]
    with pytest.raises(ValueError, match=pattern):
        call()


def test_layer_input_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"Linear\(.*\) expects 2 features on axis -1, got input of shape \(3, 4\)"):
        _m(_x)


def test_resume_from_a_missing_checkpoint_names_it(tmp_path):
    tr = nnlite.Trainer(_m, optim.SGD(_m), loss=losses.MSELoss(), verbose=0)
    with pytest.raises(nnlite.CheckpointError, match=r"gone\.npz: no such checkpoint file"):
        tr.fit(np.zeros((4, 2), np.float32), resume_from=tmp_path / "gone.npz")


def _model_cases():
    """The models validate in fit (scikit-learn: __init__ only stores its arguments)."""
    from nnlite import models as M

    cases = {
        "Autoencoder latent_dim": (lambda: M.Autoencoder(latent_dim=0), r"Autoencoder: latent_dim must be an int >= 1, got 0"),
        "Autoencoder lr": (lambda: M.Autoencoder(lr=-1), r"lr must be a finite number > 0, got -1"),
        "Autoencoder hidden": (lambda: M.Autoencoder(hidden=(0,)), r"hidden must be a tuple of layer widths \(ints >= 1\), got \(0,\)"),
        "DAE noise_level": (lambda: M.DenoisingAutoencoder(noise_level=1.5),
                            r"noise_level \(probability p of 'salt_and_pepper'\) must be in \[0, 1\], got 1.5"),
        "DAE noise name": (lambda: M.DenoisingAutoencoder(noise="blur"),
                           r"unknown noise 'blur'; valid names are: bit_flip, gaussian, masking, salt_and_pepper"),
        "VAE beta": (lambda: M.VAE(beta=-1), r"VAE: beta must be a finite number >= 0, got -1"),
        "VAE latent_dim float": (lambda: M.VAE(latent_dim=2.5), r"latent_dim must be an int >= 1, got 2.5"),
    }
    optional = {
        "GAN label_smoothing": ("GAN", lambda: M.GAN(label_smoothing=0.7), r"label_smoothing must be a number in \[0, 0.5\).*got 0.7"),
        "SparseAutoencoder l1": ("SparseAutoencoder", lambda: M.SparseAutoencoder(l1=-1), r"l1 must be a finite number >= 0, got -1"),
        "ConvDAE channels": ("ConvDenoisingAutoencoder", lambda: M.ConvDenoisingAutoencoder(channels=()),
                             r"channels must be a non-empty tuple of channel counts \(ints >= 1\), got \(\)"),
        "ResidualDenoiser architecture": ("ResidualDenoiser", lambda: M.ResidualDenoiser(architecture="foo"),
                                          r"architecture must be one of \['dncnn', 'unet'\], got 'foo'"),
        "ConvVAE latent_dim": ("ConvVAE", lambda: M.ConvVAE(latent_dim=0), r"latent_dim must be an int >= 1, got 0"),
    }
    for name, (cls, make, pattern) in optional.items():
        if hasattr(M, cls):
            cases[name] = (make, pattern)
    return cases


@pytest.mark.parametrize("name", list(_model_cases()))
def test_model_hyper_parameter_messages(name):
    make, pattern = _model_cases()[name]
    X = np.random.default_rng(0).random((8, 4, 4)).astype(np.float32)
    with pytest.raises(ValueError, match=pattern):
        make().fit(X)
