"""Worker for tests/test_resume_kill.py: a small seeded training run with a checkpoint every epoch.

    python tests/_resume_kill_worker.py OUT_DIR [--epochs N] [--slow SECONDS] [--resume]

It trains a 16-32-16 MLP denoiser on synthetic data with every kind of randomness nnlite has (seeded
shuffling, a Dropout layer's generator inside the model, an input-noise generator held by the trainer),
saves OUT_DIR/checkpoint.npz after every epoch, prints one ``batch <epoch> <b>`` line per step and a
``saved <epoch>`` line per checkpoint (flushed, so a parent can time a kill), and at the end writes the
final weights to OUT_DIR/final.npz. ``--slow`` sleeps after every step so a SIGKILL lands mid-epoch;
``--resume`` continues from OUT_DIR/checkpoint.npz.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

import nnlite
from nnlite import losses, optim
from nnlite.callbacks import ModelCheckpoint


class Announce(nnlite.Callback):
    def __init__(self, slow):
        self.slow = slow

    def on_batch_end(self, trainer, step, logs):
        print(f"batch {trainer.epoch + 1} {trainer._position['batch']}", flush=True)
        if self.slow:
            time.sleep(self.slow)

    def on_epoch_end(self, trainer, epoch, logs):
        print(f"saved {epoch}", flush=True)  # runs after ModelCheckpoint (callbacks run in order)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--slow", type=float, default=0.0)
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    data = np.random.default_rng(0)
    X = (data.random((200, 16)) < 0.3).astype(np.float32)
    model = nnlite.Sequential(nnlite.Linear(16, 32, random_state=1), nnlite.Tanh(),
                              nnlite.Dropout(0.1, random_state=2), nnlite.Linear(32, 16, random_state=3))
    noise = np.random.default_rng(4)
    loss = losses.BCEWithLogitsLoss()

    def step(xb, yb):
        flip = noise.random(xb.shape) < 0.1
        noisy = np.where(flip, 1 - xb, xb).astype(xb.dtype)
        value = loss(model(noisy), yb)
        model.backward(loss.backward())
        return value

    ckpt = out / "checkpoint.npz"
    trainer = nnlite.Trainer(model, optim.Adam(model, lr=3e-3), step=step, batch_size=16, epochs=args.epochs,
                             random_state=5, generators=[noise], verbose=0,
                             callbacks=[ModelCheckpoint(ckpt), Announce(args.slow)])
    trainer.fit(X, resume_from=ckpt if args.resume else None)
    np.savez(out / "final.npz", **model.state_dict())
    print("done", trainer.epoch, trainer.global_step, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
