"""Plain helpers the tests import (`from tests.helpers import ...`): tiny datasets made on
the fly, run files read back, weight comparisons and the CLI's usage errors. The fixtures
that use them are in conftest.py."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

from ganvas.checkpoint import model_info
from ganvas.config.schema import ModelConfig
from ganvas.data.archive import ArchiveWriter
from ganvas.models import build_generator
from ganvas.runfolder.snapshots import write_snapshot

# Options for runs that take a second or two on a 2-core CPU.
TINY = dict(model="dcgan-tiny", batch=16, snap_kimg=0.128, tick_kimg=0.064, progress=False)


def make_png_folder(folder, n=8, size=20, seed=0):
    """`folder` with n random RGB PNGs of size x size (a raw folder, not an archive)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(
            folder / f"{i}.png")
    return folder


def make_toy_archive(path, n=64, resolution=16, channels=3, labelled=False, seed=0):
    """Coloured squares on white (labelled: red squares = class 0, blue = class 1)."""
    rng = np.random.default_rng(seed)
    names = ["red", "blue"] if labelled else None
    with ArchiveWriter(path, resolution, channels, class_names=names) as w:
        for i in range(n):
            img = np.full((resolution, resolution, channels), 255, np.uint8)
            label = i % 2 if labelled else None
            colour = rng.integers(0, 256, channels)
            if labelled:
                colour = np.array([220, 30, 30] if label == 0 else [30, 30, 220])[:channels]
            s = resolution // 2
            x, y = rng.integers(0, resolution - s + 1, 2)
            img[y:y + s, x:x + s] = colour
            w.add(img, label=label, source=f"toy/{i}.png")
        w.close()
    return path


def stats(run):
    """The entries of a run's stats.jsonl."""
    return [json.loads(s) for s in (run / "stats.jsonl").read_text().splitlines()]


def weights(snapshot, name):
    """NAME.safetensors of a snapshot as a dict of tensors."""
    return load_file(str(snapshot / f"{name}.safetensors"))


def same(a, b):
    """Two weight dicts with the same names and bit-identical tensors."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def usage_error(argv: list[str], capsys) -> str:
    """Run `ganvas ARGV`, check it failed as a user mistake (exit 2, one line on stderr, no
    traceback) and return that line."""
    from ganvas.cli import main
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def assert_trained_alike(a: dict, b: dict, lr: float, steps_apart: float = 2.0,
                         mean_apart: float = 0.2) -> None:
    """Two weight dicts of runs that saw the same batches, summed in another order (two
    processes against one, other thread counts): float32 rounding, which the GAN's steps
    carry on and Adam enlarges (its step is about lr whatever the gradient's size, and a
    near-zero gradient element's sign can flip). Measured on two CPUs: DCGAN after 8 steps
    0.04 lr apart on average, StyleGAN2 after 3 steps one element in 50,000 one step apart.
    So: integer tensors equal, no float element more than two Adam steps (`steps_apart` lr)
    apart, and every float tensor on average within lr / 5 (`mean_apart` lr; a run on half the
    batch, or without the other process's gradients, is about half a step or more apart
    everywhere)."""
    assert a.keys() == b.keys()
    for k in a:
        if not a[k].is_floating_point():
            assert torch.equal(a[k], b[k]), k
            continue
        gap = (a[k].float() - b[k].float()).abs()
        assert float(gap.max()) <= steps_apart * lr, (k, float(gap.max()) / lr)
        assert float(gap.mean()) <= mean_apart * lr, (k, float(gap.mean()) / lr)


# Tiny model configurations for the latent tools, the page and the API verbs.
SG2 = dict(family="stylegan2", resolution=32, z_dim=32, w_dim=32, mapping_layers=2,
           g_width=8, d_width=8, max_width=32)
DC = dict(family="dcgan", resolution=16, z_dim=16, g_width=8, d_width=8)


def export_random(folder: Path, classes=(), seed: int = 0, **cfg) -> Path:
    """An untrained generator saved as an exported model: instant, and all the latent tools
    need (they test plumbing and exact equalities, not beauty)."""
    torch.manual_seed(seed)
    mc = ModelConfig(**cfg, num_classes=len(classes))
    G = build_generator(mc).eval()
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):         # let StyleGAN2's noise matter
                p.fill_(0.1)
            if name.endswith("embed.weight"):           # and the class, visibly
                p.normal_(0, 1)
    info = model_info(mc, 0, {"class_names": list(classes)}, preset="test")
    return write_snapshot(folder, {"G_ema": G}, info)


def run(argv) -> int:
    """`ganvas ARGV` (any path-like argument made a string); its exit code."""
    from ganvas.cli import main
    return main([str(a) for a in argv])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (for a torch.distributed rendezvous)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fail_third_render_chunk(monkeypatch) -> list:
    """Walks render in chunks of 2 frames and the third chunk raises RuntimeError("boom"): a
    render that fails half-way. Returns the list of chunk starts (clear it to fail again)."""
    from ganvas.latent import animate
    monkeypatch.setattr(animate, "RENDER_CHUNK", 2)
    original, calls = animate.Walk.frames, []

    def failing(self, start=0, stop=None):
        calls.append(start)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return original(self, start, stop)

    monkeypatch.setattr(animate.Walk, "frames", failing)
    return calls
