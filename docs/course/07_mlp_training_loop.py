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
# and each product is exactly what that layer's ``backward`` computes (chapter 2 for Linear, chapter 3
# for the activations); every layer adds its parameter gradients on the way. No layer needs to know
# what surrounds it.
import inspect

import matplotlib.pyplot as plt
import numpy as np

import nnlite
from nnlite import losses, optim
from nnlite.ops import reference


def show_ops(*names):
    """Print the reference backend's source of each op: an op renamed or removed fails here, loudly."""
    for name in names:
        print(inspect.getsource(getattr(reference, name)))


print(inspect.getsource(nnlite.Sequential.forward))
print(inspect.getsource(nnlite.Sequential.backward))

# %%
# The chain, by hand: the backward of the stack equals each layer's backward called in reverse order,
# each fed what the next one returned (asserted, on a small stack).
stack = nnlite.Sequential(nnlite.Linear(3, 4, dtype=np.float64, random_state=0), nnlite.Tanh(),
                          nnlite.Linear(4, 2, dtype=np.float64, random_state=1))
x = np.random.default_rng(100).normal(size=(5, 3))
g = np.random.default_rng(101).normal(size=(5, 2))
stack(x)
dx_stack = stack.backward(g)
lin1, act, lin2 = nnlite.Linear(3, 4, dtype=np.float64, random_state=0), nnlite.Tanh(), \
    nnlite.Linear(4, 2, dtype=np.float64, random_state=1)
lin2(act(lin1(x)))
np.testing.assert_allclose(dx_stack, lin1.backward(act.backward(lin2.backward(g))), rtol=1e-12)

# %%
# The training step and the update
# --------------------------------
# The :class:`~nnlite.Trainer` zeroes the gradients, runs this step on a batch, then lets the
# optimizer move every parameter against its gradient. Adam keeps a running mean :math:`m` and a
# running mean square :math:`v` of each gradient:
# :math:`\theta \leftarrow \theta - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)`, with the bias
# correction :math:`\hat m`, :math:`\hat v` that chapter 8 derives. The step, and the update as the
# reference backend writes it:
print(inspect.getsource(nnlite.Trainer._supervised_step))
show_ops("adam_update")

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
assert trainer.history["loss"][-1] < 0.5 * trainer.history["loss"][0] and accuracy > 0.9

# %%
# The picture: the training loss per epoch, and the class the trained network gives each point of the
# plane (its decision regions), with the training points on top.
u, v = np.meshgrid(np.linspace(-1.1, 1.1, 200), np.linspace(-1.1, 1.1, 200))
grid = np.c_[u.ravel(), v.ravel()].astype(np.float32)                      # (200*200, 2)
logits = model(grid)                                                        # (200*200, 2)
p1 = np.exp(logits[:, 1] - np.logaddexp(logits[:, 0], logits[:, 1]))       # softmax, class 1
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained", width_ratios=(1, 1.1))
ax0.plot(np.arange(1, len(trainer.history["loss"]) + 1), trainer.history["loss"])
ax0.set_xlabel("epoch")
ax0.set_ylabel("cross-entropy (training)")
ax0.set_yscale("log")
ax0.set_title("Adam, lr 0.02, batches of 32")
ax1.contourf(u, v, p1.reshape(u.shape), levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
ax1.scatter(X[:, 0], X[:, 1], c=label, cmap="RdBu_r", s=8, edgecolors="k", linewidths=0.3)
ax1.set_aspect("equal")
ax1.set_title(f"P(class 1) after training; accuracy {accuracy:.1%}")
plt.show()

# %%
# The whole network's gradient, checked
# -------------------------------------
# One gradient check covers every layer and the input at once. It runs on the freshly initialised
# network: after training, some tanh units sit in saturation, where true gradients of ~1e-6 make
# float64 round-off in the central differences itself look like a relative error of 1e-6. The
# models build their networks from :class:`~nnlite.Dense`, a Linear and an activation fused into one
# fast layer; it is checked the same way.
# The checks run on the reference backend.
x = np.random.default_rng(100).normal(size=(8, 2))   # seed 100: not gradcheck's R (seed 0)
with nnlite.ops.using("reference"):
    result = nnlite.gradcheck(make_mlp(), x, eps=1e-5)
print(result)
assert result.passed, result
dense = nnlite.Sequential(nnlite.Dense(2, 16, activation="tanh", random_state=0),
                          nnlite.Dense(16, 3, activation="sigmoid", random_state=1))
with nnlite.ops.using("reference"):
    result = nnlite.gradcheck(dense, x)
print(result)
assert result.passed, result

# %%
# Exercises
# ---------
# - ``docs/course/exercises/dropout.py``: a layer that behaves differently in training and evaluation;
#   with its mask held fixed, derive and write its backward and grade it with
#   ``nnlite gradcheck docs/course/exercises/dropout.py``.
# - Train the spirals with ReLU instead of tanh, and with plain SGD (chapter 8): how many epochs does
#   each need to reach the same loss?
