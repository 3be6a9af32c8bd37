"""A weights folder in the format of ``nnlite/weights/`` (MANIFEST.json + two checkpoints) holding tiny,
briefly trained denoisers: what the tests of ``nnlite.pretrained`` and ``--model photo`` load when they
check the loading, the checks and the dispatch, not the quality."""
import json
from pathlib import Path

import numpy as np

from nnlite import save_checkpoint
from nnlite.models import ResidualDenoiser
from nnlite.weights import MANIFEST, sha256_of

#: The command a tiny folder's manifest names (what a refused file's message must repeat).
COMMAND = "python -m benchmarks.photo_train --channels {kind} --tiny-test-folder"


def make_tiny_folder(folder) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    entries = {}
    for kind, shape in (("rgb", (8, 16, 16, 3)), ("grey", (8, 16, 16))):
        X = rng.uniform(0.2, 0.8, shape).astype(np.float32)
        model = ResidualDenoiser(noise_level=0.1, width=4, depth=2, epochs=1, batch_size=8, random_state=0).fit(X)
        name = f"photo-denoiser-{kind}"
        path = save_checkpoint(folder / f"{name}.npz", model, sidecar=False)
        entries[name] = {"file": path.name, "sha256": sha256_of(path), "command": COMMAND.format(kind=kind),
                         "seed": 0}
    (folder / MANIFEST).write_text(json.dumps(entries, indent=1))
    return folder
