"""Export a model's generator (G_ema) for other people and other programs.

- "safetensors": a standalone model folder OUT = model.json + G_ema.safetensors (no D, no
  trainer state), which ganvas.load, generate, the app and other people load; it gives the
  same images as its source.
- "onnx": OUT/generator.onnx, exported with torch.onnx's dynamo exporter (torch.export +
  onnxscript; the TorchScript exporter cannot export StyleGAN2's modulated convolutions),
  checked against PyTorch with onnxruntime before it is moved into place. Inputs, batch size N
  dynamic:
      z           float32 (N, z_dim)   standard-normal latents (ganvas: Model.z(seeds))
      labels      int64 (N,)           class indices; conditional models only
      truncation  float32 (1,)         psi (1 = none), applied where the family applies it
                                       (towards w_avg in w for StyleGAN2, z * psi for the DCGAN
                                       family): the family contract's G.synthesize.
  Output "images": float32 (N, C, H, W), the generator's raw output: [-1, 1] for DCGAN (tanh),
  about [-1, 1] and NOT clamped for StyleGAN2; to pixels: clamp(x * 127.5 + 128, 0, 255).
  With uint8=True instead uint8 (N, H, W, C), converted exactly so (what ganvas saves).
  Families with noise inputs use their constant noise (noise_mode "const"), so an image
  depends only on z.
  The ganvas model.json is stored in the ONNX metadata under "ganvas_model".

Both are written atomically: a temporary file or folder, renamed into place when complete,
never over an earlier export (or anything else).
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from .errors import GanvasError
from .durable import atomic_save
from .imaging import to_uint8
from .latent.look import Look
from .latent.sampler import Sampler
from .runfolder.snapshots import write_snapshot

FORMATS = ("safetensors", "onnx")
ONNX_FILE = "generator.onnx"
ONNX_ATOL = 1e-4              # max |onnxruntime - PyTorch| allowed on float images in [-1, 1]
CHECK_SEEDS = range(5)        # latents the check compares on (batch 5: not the traced 2)
ONNX_PIP = "pip install onnx onnxscript onnxruntime"


def export(model, out: str | os.PathLike, format: str = "safetensors",
           uint8: bool = False) -> Path:
    """Write `model` (a ganvas.api.Model) to `out` in `format`; returns what was written
    (the folder for safetensors, the .onnx file for onnx). uint8: ONNX outputs uint8 NHWC."""
    if format not in FORMATS:
        raise GanvasError(f"unknown export format {format!r}; choose from {', '.join(FORMATS)}")
    if uint8 and format != "onnx":
        raise GanvasError("uint8 output is an option of the onnx format")
    if format == "safetensors":
        return export_safetensors(model, Path(out))
    return export_onnx(model, Path(out), uint8=uint8)


def export_safetensors(model, out: Path) -> Path:
    """Atomically make `out` a model folder: model.json (the source's, kimg and dataset facts
    included) + G_ema.safetensors. `out` must be new or empty: an earlier export, a run folder
    or any other folder is never overwritten (a GanvasError naming what it holds)."""
    if out.exists() and not out.is_dir():
        raise GanvasError(f"{out} exists and is not a folder")
    if out.exists() and out.resolve() == Path(model.path).resolve():
        raise GanvasError(f"{out} is the model being exported; choose another folder")
    if out.is_dir():
        held = sorted(p.name for p in out.iterdir())
        if held:
            raise GanvasError(f"{out} already holds files ({', '.join(held[:3])}); export "
                              f"into a new or empty folder (nothing is overwritten)")
    info = {k: v for k, v in model.info.items() if k not in ("format", "version")}
    return write_snapshot(out, {"G_ema": cpu_copy(model.G)}, info)


def cpu_copy(G: nn.Module) -> nn.Module:
    """G itself when on the CPU, else a CPU copy (the model keeps its device)."""
    if next(G.parameters()).device.type == "cpu":
        return G
    return copy.deepcopy(G).cpu()


def need_onnx():
    """(onnx, onnxruntime), or a GanvasError naming the pip command."""
    try:
        import onnx
        import onnxruntime
        import onnxscript  # noqa: F401  (the dynamo exporter translates with it)
    except ImportError as e:
        raise GanvasError(f"exporting to ONNX needs onnx, onnxscript and onnxruntime "
                          f"({e.name} is missing): {ONNX_PIP}") from None
    return onnx, onnxruntime


class OnnxGenerator(nn.Module):
    """The exported function: (z, [labels], truncation) -> images, as in the module
    docstring: the family contract's G.synthesize with constant noise, as Model.synthesize."""

    def __init__(self, G: nn.Module, uint8: bool):
        super().__init__()
        self.G, self.uint8 = G, uint8

    def forward(self, z: Tensor, labels: Tensor | None = None,
                truncation: Tensor | None = None) -> Tensor:
        x = self.G.synthesize(z, labels, 1.0 if truncation is None else truncation, "const")
        if self.uint8:
            # as imaging.to_uint8: +128 then truncation = rounding to nearest
            return (x * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        return x


def input_names(model) -> list[str]:
    return ["z"] + (["labels"] if model.num_classes else []) + ["truncation"]


def example_inputs(model, seeds, truncation: float = 1.0) -> dict[str, Tensor]:
    """Inputs for `seeds` by name, in input_names order: z, labels (seed % num_classes),
    truncation psi."""
    inputs = {"z": model.z(list(seeds))}
    if model.num_classes:
        inputs["labels"] = model.labels(list(seeds))
    inputs["truncation"] = torch.tensor([truncation], dtype=torch.float32)
    return inputs


def export_onnx(model, out: Path, uint8: bool = False) -> Path:
    """Write out/generator.onnx (see the module docstring) after checking it with
    onnxruntime; returns its path."""
    if out.exists() and not out.is_dir():
        raise GanvasError(f"{out} exists and is not a folder")
    if (out / ONNX_FILE).exists():
        raise GanvasError(f"{out / ONNX_FILE} exists; export into another folder (nothing is "
                          f"overwritten)")
    onnx, _ = need_onnx()
    G = copy.deepcopy(model.G).cpu().eval()
    net = OnnxGenerator(G, uint8).eval()
    names = input_names(model)
    batch = torch.export.Dim("batch", min=1)
    # z and labels share the dynamic batch size; psi is (1,).
    shapes = {n: None if n == "truncation" else {0: batch} for n in names}
    example = example_inputs(model, [0, 1])
    with warnings.catch_warnings():
        # "axis name batch will not be used": z's and labels' batch axes are one, as meant.
        warnings.filterwarnings("ignore", message=".*axis name", category=UserWarning)
        program = torch.onnx.export(net, (example.pop("z"),), kwargs=example, dynamo=True,
                                    input_names=names, output_names=["images"],
                                    dynamic_shapes=shapes, external_data=False,
                                    verbose=False)
    meta = {"ganvas_model": json.dumps(model.info), "ganvas_inputs": ",".join(names),
            "ganvas_output": "uint8 NHWC" if uint8 else "float32 NCHW [-1, 1]"}
    out.mkdir(parents=True, exist_ok=True)

    def save(tmp: str) -> None:
        program.save(tmp)
        err = check_onnx(tmp, model, uint8)
        print(f"export: onnxruntime vs PyTorch on {len(CHECK_SEEDS)} latents: max abs error "
              f"{err:.2g} ({'levels, allowed 1' if uint8 else f'allowed {ONNX_ATOL:g}'})")
        proto = onnx.load(tmp)
        onnx.helper.set_model_props(proto, {**meta, "ganvas_check_max_abs_error": f"{err:g}"})
        onnx.save(proto, tmp)

    return atomic_save(out / ONNX_FILE, save)


def check_onnx(path: str | os.PathLike, model, uint8: bool = False,
               seeds=CHECK_SEEDS, truncation: float = 0.7) -> float:
    """Run `path` with onnxruntime on `seeds` and compare with ganvas's own images (the
    synthesize path Model.generate uses); returns the max abs error (float images) or max
    level difference (uint8). A GanvasError above ONNX_ATOL (float) or 1 level (uint8)."""
    _, ort = need_onnx()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = example_inputs(model, seeds, truncation)
    got = session.run(None, {n: x.numpy() for n, x in inputs.items()})[0]
    want = Sampler(cpu_copy(model.G)).images(inputs["z"], inputs.get("labels"),
                                             Look(truncation=truncation))
    if uint8:
        err = float(np.abs(got.astype(np.int16) - to_uint8(want).astype(np.int16)).max())
        limit = 1.0
    else:
        err = float(np.abs(got - want.numpy()).max())
        limit = ONNX_ATOL
    if not err <= limit:
        raise GanvasError(f"the exported ONNX model differs from PyTorch by {err:g} "
                          f"(allowed {limit:g}); not written")
    return err

