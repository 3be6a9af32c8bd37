"""
A GAN on Fashion-MNIST
======================

A GAN on Fashion-MNIST (or MNIST): sample grids after every epoch, loss curves, a check for collapse.
Run it with::

    NNLITE_DATA=../shared/data python examples/gan_fashion_mnist.py        # ~3 minutes; figures in out/

The generator maps 100 Gaussian numbers to an image, the discriminator tells real images from generated
ones, and the two are trained in turns (see nnlite/models/gan.py for every gradient). The grids use the
same 64 codes z after every epoch, so you can watch each sample take shape. A generator that collapsed
to a single image would show 64 copies of it, and a pixel spread (printed) near 0.
"""
import os
import time

from nnlite import plots
from nnlite.data import load_fashion_mnist, load_mnist
from nnlite.models import GAN, SaveSamples

# -------------------------------------------------------------------------- settings
DATASET = "fashion"        # 'fashion' (60,000 training images) or 'mnist' (the 10,000 test images)
GENERATOR = "mlp"          # 'mlp' (fast) or 'dcgan' (transposed convolutions + batch norm; ~10x slower)
EPOCHS = 5                 # 5 epochs of Fashion-MNIST is ~4,700 generator steps
SEED = 0
OUT = "out"
QUICK = os.environ.get("NNLITE_QUICK") == "1"   # the quick setting the docs gallery runs: fewer images and epochs
N_TRAIN = None             # train on the first N images (None: all)
if QUICK:
    N_TRAIN, EPOCHS = 3000, 2
print(f"quick setting (NNLITE_QUICK=1): {N_TRAIN:,} training images, {EPOCHS} epochs" if QUICK
      else "full run (NNLITE_QUICK is not set)")

X, _ = load_fashion_mnist("train") if DATASET == "fashion" else load_mnist("test")
X = X[:N_TRAIN]
os.makedirs(OUT, exist_ok=True)
saver = SaveSamples(os.path.join(OUT, f"gan_{DATASET}_epoch{{epoch:03d}}.png"), n=64,
                    title=f"GAN ({GENERATOR}) on {DATASET}")
gan = GAN(generator=GENERATOR, label_smoothing=0.1, random_state=SEED)
t = time.perf_counter()
gan.fit(X, epochs=EPOCHS, callbacks=[saver], verbose=1)
print(f"trained {gan.n_iter_} generator steps in {time.perf_counter() - t:.0f} s")

h = gan.history_
print("epoch  L_D    L_G    D(x)   D(G(z))  pixel spread of samples (real data: "
      f"{gan.data_pixel_std_:.3f})")
for e in range(len(h["d_loss"])):
    print(f"{e + 1:5d}  {h['d_loss'][e]:.3f}  {h['g_loss'][e]:.3f}  {h['d_real'][e]:.3f}  {h['d_fake'][e]:.3f}    "
          f"{h['sample_pixel_std'][e]:.3f}")

paths = list(saver.paths)
paths.append(plots.save(plots.curves(h, ["d_loss", "g_loss"], title="GAN losses", ylabel="loss",
                                     labels={"d_loss": "discriminator", "g_loss": "generator (non-saturating)"}),
                        os.path.join(OUT, f"gan_{DATASET}_losses.png")))
paths.append(plots.save(plots.image_grid(gan.sample(100, random_state=1), ncols=10,
                                         title=f"100 new samples after {EPOCHS} epochs"),
                        os.path.join(OUT, f"gan_{DATASET}_samples.png")))
print("wrote", *paths, sep="\n  ")
