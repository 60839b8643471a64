"""Releasing objects in any order is safe: borrowed handles keep their owners
alive, close() is idempotent, a closed object raises instead of crashing.

Each scenario runs in a fresh interpreter, so that a use-after-free that
crashed would fail its test rather than the whole run."""

from __future__ import annotations

import textwrap

import pytest
from conftest import DATA_API, requires, run_python

import byol

PRELUDE = """
import gc
import numpy as np
import byol
rng = np.random.default_rng(0)
cfg = byol.Config("fashion-mnist", train__batch_size=4, threads=2,
                  byol__proj_hidden=32, byol__pred_hidden=32, byol__proj_out=16)
def views():
    shape = (4, 1, 28, 28)
    return rng.random(shape, dtype=np.float32), rng.random(shape, dtype=np.float32)
x = rng.random((3, 1, 28, 28), dtype=np.float32)
"""


def scenario(body: str) -> None:
    code = PRELUDE + textwrap.dedent(body) + "\nprint('survived')\n"
    r = run_python(code)
    assert r.returncode == 0 and r.stdout.strip().endswith("survived"), (
        f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")


def test_trainer_closed_before_its_encoder():
    scenario("""
        t = byol.Trainer(cfg)
        t.step(*views())
        enc = t.encoder()
        t.close(); gc.collect()
        assert t.closed and not enc.closed
        y = enc.embed(x)                 # the C trainer is still alive
        assert y.shape == (3, 128)
        enc.close(); gc.collect()
        enc.close()
    """)


def test_trainer_dropped_without_close_while_the_encoder_lives():
    scenario("""
        enc = byol.Trainer(cfg).encoder()  # the Trainer object is garbage at once
        gc.collect()
        assert enc.embed(x).shape == (3, 128)
        del enc; gc.collect()
    """)


def test_encoder_closed_before_its_trainer_and_buffers_outliving_both():
    scenario("""
        t = byol.Trainer(cfg)
        enc = t.encoder()
        params, enc_params = t.params, enc.params
        enc.close(); gc.collect()
        t.step(*views())
        t.close(); gc.collect()
        params += 1.0                    # still valid memory: the arrays keep it
        enc_params *= 2.0
        s = float(params.sum() + enc_params.sum())
        del params, enc_params; gc.collect()
    """)


def test_net_buffer_outlives_close_and_config_closed_before_users():
    scenario("""
        c = byol.Config(net__arch="cnn-small")
        net = byol.Net(c)
        c.close(); gc.collect()          # the net copied what it needed
        p = net.params
        net.close(); gc.collect()
        p[:] = 0.0
        assert not p.any()
        del p; gc.collect()
    """)


def test_closed_objects_raise_instead_of_crashing():
    scenario("""
        net = byol.Net(arch="cnn-small")
        net.close(); net.close()
        try:
            net.forward(x)
        except byol.BadStateError as e:
            assert "closed" in str(e)
        else:
            raise AssertionError("forward on a closed net did not raise")
        t = byol.Trainer(cfg)
        t.close()
        for call in (lambda: t.step(*views()), lambda: t.encoder(), lambda: t.save("x")):
            try:
                call()
            except byol.BadStateError:
                pass
            else:
                raise AssertionError("a closed trainer did not raise")
    """)


def test_many_objects_released_in_random_orders():
    scenario("""
        import random
        random.seed(7)
        for round in range(5):
            objs = []
            c = byol.Config(settings=cfg.serialize())
            t = byol.Trainer(c)
            objs += [c, t, t.encoder(), byol.Net(arch="cnn-small"), t.params]
            random.shuffle(objs)
            for o in objs:
                if hasattr(o, "close"):
                    o.close()
                del o
                gc.collect()
            objs.clear(); gc.collect()
    """)


@requires(*DATA_API)
def test_dataset_closed_before_its_loader():
    scenario("""
        imgs = (rng.random((16, 28, 28)) * 255).astype(np.uint8)
        ds = byol.Dataset.from_numpy(cfg, imgs, labels=np.arange(16) % 4)
        ld = byol.Loader(cfg, ds)
        ds.close(); gc.collect()          # the loader keeps the C dataset
        v1, v2, y = next(ld)
        assert v1.shape == (4, 1, 28, 28)
        ld.close(); gc.collect()
        ds2 = byol.Dataset.from_numpy(cfg, imgs)
        ld2 = byol.Loader(cfg, ds2, mode="eval")
        del ds2; gc.collect()
        assert sum(b.count for b in ld2) == 16
        del ld2; gc.collect()
    """)


def test_with_blocks_close():
    with byol.Config() as cfg:
        pass
    assert cfg.closed
    with pytest.raises(byol.BadStateError):
        with cfg:
            pass
