r"""
7. An MLP and the training loop
===============================

Stack layers and the chain rule composes: a :class:`~nnlite.Sequential` runs its layers' forwards
in order and their backwards in reverse, each backward receiving what the next layer's backward
returned. Training is then four lines repeated: forward, loss, backward, optimizer step.
"""

# %%
# Backward through a stack
# ------------------------
# For :math:`y = f_3(f_2(f_1(x)))` with intermediate outputs :math:`h_1, h_2`,
#
# .. math::
#     \frac{\partial L}{\partial h_2} = \frac{\partial L}{\partial y} \frac{\partial f_3}{\partial h_2},
#     \qquad
#     \frac{\partial L}{\partial h_1} = \frac{\partial L}{\partial h_2} \frac{\partial f_2}{\partial h_1},
#     \qquad
#     \frac{\partial L}{\partial x} = \frac{\partial L}{\partial h_1} \frac{\partial f_1}{\partial x},
#
# and each product is exactly what that layer's ``backward`` computes (chapter 1 for Linear, chapter 2
# for the activations); every layer adds its parameter gradients on the way. No layer needs to know
# what surrounds it.
import inspect

import numpy as np

import nnlite
from nnlite import losses, optim

print(inspect.getsource(nnlite.Sequential.forward))
print(inspect.getsource(nnlite.Sequential.backward))

# %%
# The training step and the update
# --------------------------------
# The :class:`~nnlite.Trainer` zeroes the gradients, runs this step on a batch, then lets the
# optimizer move every parameter against its gradient. Adam keeps a running mean :math:`m` and a
# running mean square :math:`v` of each gradient:
# :math:`\theta \leftarrow \theta - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)`.
print(inspect.getsource(nnlite.Trainer._supervised_step))
print(inspect.getsource(optim.Adam.step))

# %%
# Two spirals
# -----------
rng = np.random.default_rng(0)
t = rng.uniform(0.25, 1, 400)
label = rng.integers(0, 2, 400)
angle = 2 * np.pi * t + np.pi * label
X = np.c_[t * np.cos(angle), t * np.sin(angle)].astype(np.float32)


def make_mlp():
    return nnlite.Sequential(
        nnlite.Linear(2, 32, random_state=0), nnlite.Tanh(),
        nnlite.Linear(32, 32, random_state=1), nnlite.Tanh(),
        nnlite.Linear(32, 2, random_state=2),
    )


model = make_mlp()
trainer = nnlite.Trainer(model, optim.Adam(model, lr=0.02), loss=losses.CrossEntropyLoss(),
                         batch_size=32, epochs=40, random_state=0, verbose=0)
trainer.fit(X, label)
accuracy = (model(X).argmax(axis=1) == label).mean()
print(f"loss {trainer.history['loss'][0]:.3f} -> {trainer.history['loss'][-1]:.3f}, accuracy {accuracy:.1%}")

# %%
# The whole network's gradient, checked
# -------------------------------------
# One gradient check covers every layer and the input at once. It runs on the freshly initialised
# network: after training, some tanh units sit in saturation, where true gradients of ~1e-6 make
# float64 round-off in the central differences itself look like a relative error of 1e-6. The
# models build their networks from :class:`~nnlite.Dense`, a Linear and an activation fused into one
# fast layer; it is checked the same way.
x = np.random.default_rng(100).normal(size=(8, 2))   # seed 100: not gradcheck's R (seed 0)
result = nnlite.gradcheck(make_mlp(), x, eps=1e-5)
print(result)
assert result.passed, result
dense = nnlite.Sequential(nnlite.Dense(2, 16, activation="tanh", random_state=0),
                          nnlite.Dense(16, 3, activation="sigmoid", random_state=1))
result = nnlite.gradcheck(dense, x)
print(result)
assert result.passed, result
