r"""Sparse autoencoders: an autoencoder whose code ``h`` is pushed to be mostly zero (or mostly small).

Two penalties on the code activations ``h`` ``(B, m)`` of a batch, added to the reconstruction loss
(both may be used at once):

**L1 activity penalty** (Keras' ``activity_regularizer=l1(l1)``, divided by the batch size as Keras does):

.. math::
    P_1 = \frac{\lambda_1}{B} \sum_{i,j} |h_{ij}|, \qquad
    \frac{\partial P_1}{\partial h_{ij}} = \frac{\lambda_1}{B}\,\mathrm{sign}(h_{ij})

(the kink at 0 gets derivative 0; with a ReLU code most ``h`` are exactly 0 and are not moved).

**KL sparsity penalty** (Ng's CS294A notes) on sigmoid code units, whose mean activation
:math:`\hat\rho_j = \frac1B \sum_i h_{ij}` should be close to a small target :math:`\rho`:

.. math::
    P_{KL} = \beta \sum_j \rho \log\frac{\rho}{\hat\rho_j} + (1 - \rho)\log\frac{1 - \rho}{1 - \hat\rho_j},
    \qquad
    \frac{\partial P_{KL}}{\partial h_{ij}} = \frac{\beta}{B}\Big(-\frac{\rho}{\hat\rho_j}
        + \frac{1 - \rho}{1 - \hat\rho_j}\Big)

(every sample of the batch contributes ``1/B`` to :math:`\hat\rho_j`). :math:`\hat\rho_j` is clipped to
``[eps, 1 - eps]`` inside the logs (dtype epsilon), which only matters for a saturated unit.

The penalty gradient is added to ``dL/dh`` coming back from the decoder, and the sum goes through
the encoder's backward. Gradients are checked against central differences in ``tests/test_sparse.py``.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._base import backward_layers, mlp, run_layers
from .autoencoder import Autoencoder

__all__ = ["SparseAutoencoder", "l1_penalty", "l1_penalty_backward", "kl_sparsity", "kl_sparsity_backward"]

CODE_ACTIVATIONS = ("relu", "sigmoid", "identity", "softplus")


# ---------------------------------------------------------------------------------------- pure math
def l1_penalty(h, weight):
    """``weight * sum|h| / B`` for codes ``h`` ``(B, m)``."""
    return float(weight) * float(np.abs(h).sum(dtype=np.float64)) / len(h)


def l1_penalty_backward(h, weight):
    """``dP1/dh = weight * sign(h) / B``, ``(B, m)`` (0 at h = 0)."""
    return np.sign(h) * np.asarray(float(weight) / len(h), dtype=h.dtype)


def _rho_hat(h):
    eps = float(np.finfo(h.dtype).eps) if np.issubdtype(h.dtype, np.floating) else 1e-12
    return np.clip(h.mean(axis=0, dtype=np.float64), eps, 1 - eps)     # (m,)


def kl_sparsity(h, rho, weight):
    """``weight * sum_j KL(rho || rho_hat_j)`` with ``rho_hat_j = mean_i h_ij``; ``h`` in (0, 1), ``(B, m)``."""
    r = _rho_hat(h)
    kl = rho * np.log(rho / r) + (1 - rho) * np.log((1 - rho) / (1 - r))
    return float(weight) * float(kl.sum())


def kl_sparsity_backward(h, rho, weight):
    """``dP/dh_ij = weight * (-rho / rho_hat_j + (1 - rho) / (1 - rho_hat_j)) / B``, ``(B, m)``."""
    r = _rho_hat(h)
    per_unit = float(weight) * (-rho / r + (1 - rho) / (1 - r)) / len(h)   # (m,)
    return np.broadcast_to(per_unit.astype(h.dtype), h.shape).copy()


# ---------------------------------------------------------------------------------------- the model
class SparseAutoencoder(Autoencoder):
    """An :class:`Autoencoder` with a nonlinear code and sparsity penalties on it.

    Parameters
    ----------
    latent_dim : int, default 32
        Code size (it may be larger than the input: sparsity, not a bottleneck, regularises it).
    l1 : float, default 0.0
        Weight of the L1 activity penalty ``l1 * sum|h| / B``. Keras' tutorial uses ``1e-5`` with a
        32-unit ReLU code on MNIST.
    sparsity_target : float in (0, 1) or None, default None
        ``rho`` of the KL penalty (e.g. 0.05); ``None`` turns it off. Needs ``code_activation='sigmoid'``.
    sparsity_weight : float, default 0.01
        ``beta`` of the KL penalty. It is weighed against the reconstruction loss averaged over pixels,
        so it is ~n_features times smaller than in formulations with a per-sample summed error: Ng's
        ``beta = 3`` with a summed squared error is ``beta ~ 3 / 784 ~ 0.004`` here on 28x28 images.
    code_activation : {'relu', 'sigmoid', 'softplus', 'identity'} or None, default None
        Activation of the code layer; ``None`` picks 'sigmoid' when ``sparsity_target`` is set, else 'relu'.
    hidden : tuple of int, default ()
        Hidden widths between the input and the code. ``()`` is the classic single-layer sparse
        autoencoder ``n -> latent_dim -> n``.
    decoder_hidden : tuple of int or None, default None
        The decoder's hidden widths from the code out; ``None`` mirrors ``hidden``.
    Other parameters as in :class:`Autoencoder` (``epochs=None``: about 3000 optimizer steps).

    Attributes
    ----------
    history_ : dict of lists
        Per epoch ``'loss'`` (total), ``'recon'``, ``'penalty'`` and ``'mean_activation'`` (mean of the
        code over samples and units), plus the validation versions with ``validation_data``.
    Other attributes as in :class:`Autoencoder`.

    :meth:`compute_loss` is the reconstruction loss alone; :meth:`penalty` gives the penalty of codes.
    """

    _default_steps = 3000

    def __init__(self, latent_dim=32, l1=0.0, sparsity_target=None, sparsity_weight=0.01, code_activation=None,
                 hidden=(), decoder_hidden=None, activation="relu", loss="bce", optimizer="adam", lr=1e-3,
                 epochs=None, batch_size=None, lr_schedule="cosine", dtype=np.float32, random_state=None):
        super().__init__(latent_dim=latent_dim, hidden=hidden, decoder_hidden=decoder_hidden, activation=activation,
                         output_activation="sigmoid", loss=loss, optimizer=optimizer, lr=lr, epochs=epochs,
                         batch_size=batch_size, lr_schedule=lr_schedule, dtype=dtype, random_state=random_state)
        self.l1 = l1
        self.sparsity_target = sparsity_target
        self.sparsity_weight = sparsity_weight
        self.code_activation = code_activation

    # ------------------------------------------------------------------ building
    def _code_activation(self):
        if self.code_activation is None:
            return "sigmoid" if self.sparsity_target is not None else "relu"
        return self._check_choice("code_activation", self.code_activation, CODE_ACTIVATIONS)

    def _validate_params(self):
        super()._validate_params()
        self._check_positive("l1", self.l1, allow_zero=True)
        self._check_positive("sparsity_weight", self.sparsity_weight, allow_zero=True)
        rho = self.sparsity_target
        if rho is not None:
            if not (isinstance(rho, numbers.Real) and not isinstance(rho, bool) and 0 < rho < 1):
                raise ValueError(f"{self._name()}: sparsity_target must be a number in (0, 1) or None, got {rho!r}")
            if self._code_activation() != "sigmoid":
                raise ValueError(f"{self._name()}: the KL sparsity penalty (sparsity_target={rho!r}) treats code "
                                 f"activations as probabilities and needs code_activation='sigmoid', got "
                                 f"{self.code_activation!r}")

    def _build(self, n_features, rng):
        hidden = self._check_hidden(self.hidden)
        dtype = np.dtype(self.dtype)
        self.encoder_ = mlp((n_features, *hidden, self.latent_dim), self.activation, rng, dtype,
                            output_activation=self._code_activation())
        self.decoder_ = mlp((self.latent_dim, *self._decoder_widths(), n_features), self.activation, rng, dtype,
                            output_activation="sigmoid")
        self._set_loss()

    # ------------------------------------------------------------------ penalties
    def penalty(self, h):
        """The sparsity penalty of a batch of codes ``h`` ``(B, latent_dim)``."""
        value = 0.0
        if self.l1:
            value += l1_penalty(h, self.l1)
        if self.sparsity_target is not None and self.sparsity_weight:
            value += kl_sparsity(h, float(self.sparsity_target), self.sparsity_weight)
        return value

    def penalty_backward(self, h):
        """``dP/dh`` ``(B, latent_dim)`` of :meth:`penalty`."""
        grad = np.zeros_like(h)
        if self.l1:
            grad += l1_penalty_backward(h, self.l1)
        if self.sparsity_target is not None and self.sparsity_weight:
            grad += kl_sparsity_backward(h, float(self.sparsity_target), self.sparsity_weight)
        return grad

    # ------------------------------------------------------------------ loss and gradients
    def _loss_forward_backward(self, x_in, target):
        """``recon + penalty(h)``: adds dL/dparam into ``.grad``; returns ``(L, dL/dx_in)``."""
        h = self.encoder_(x_in)                                   # (B, latent_dim), after the code activation
        body = list(self.decoder_)[:-1]                           # the decoder without its final Sigmoid
        recon = self._loss.forward(run_layers(body, h), target)
        dh = backward_layers(body, self._loss.backward())              # (B, latent_dim) from the reconstruction
        pen = self.penalty(h)
        dh = dh + self.penalty_backward(h)
        dx = self.encoder_.backward(dh)
        self._last = {"recon": recon, "penalty": pen, "mean_activation": float(h.mean())}
        return recon + pen, dx

    def _train_step(self, xb, yb):
        value, _ = self._loss_forward_backward(self._train_input(xb), yb)
        return {"loss": value, **self._last}

    def _eval_step(self, xb, yb):
        h = self.encoder_(xb)
        recon = self._loss.forward(run_layers(list(self.decoder_)[:-1], h), yb)
        pen = self.penalty(h)
        return {"loss": recon + pen, "recon": recon, "penalty": pen, "mean_activation": float(h.mean())}

    # ------------------------------------------------------------------ features
    def code_activation_stats(self, X):
        """Code statistics on ``X``: ``mean_activation`` (over samples and units, Keras'
        ``encoded_imgs.mean()``), ``fraction_zero`` (exactly-zero activations), ``mean_per_sample_sum``
        and ``dead_units`` (units that are 0 on every sample of ``X``: a ReLU that never fires)."""
        H = self.encode(X)
        return {"mean_activation": float(H.mean()), "fraction_zero": float(np.mean(H == 0)),
                "mean_per_sample_sum": float(H.sum(axis=1).mean()), "dead_units": int(np.sum(~(H != 0).any(0)))}

    def features(self):
        """The first encoder layer's weights as one row per hidden/code unit: ``(units, n_features)``.

        Each row is the input pattern the unit responds to most (up to scale); reshape a row to the
        image shape to draw it.
        """
        self._check_fitted()
        first = list(self.encoder_)[0]
        return first.weight.data.T.copy()
