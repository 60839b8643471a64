"""Run by tests/install/run.sh outside the source tree, with the byol
package pip-installed into a venv and nothing set in the environment:
`import byol` must find the installed library by itself (argv[1] names the
file it must load). Trains two BYOL steps on random pixels, then embeds."""

import os
import sys

import numpy as np

import byol

want = sys.argv[1]
if os.path.realpath(byol.library_path) != os.path.realpath(want):
    sys.exit(f"train_embed.py: byol loaded {byol.library_path}, not {want}")

cfg = byol.Config("fashion-mnist", net__width=0.25, train__batch_size=8, threads=2,
                  byol__proj_hidden=32, byol__pred_hidden=32, byol__proj_out=16)
images = np.random.default_rng(0).integers(0, 256, (16, 28, 28), dtype=np.uint8)
with byol.Dataset.from_numpy(cfg, images) as ds, byol.Loader(cfg, ds) as loader, \
        byol.Trainer(cfg) as trainer:
    for _, (view1, view2, _labels) in zip(range(2), loader):
        stats = trainer.step(view1, view2)
    emb = trainer.encoder().embed(view1)
print(f"train_embed.py: libbyol {byol.library_version} from {byol.library_path}: "
      f"loss {stats['loss']:.4f}, embeddings {emb.shape}")
