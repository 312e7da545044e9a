"""examples/colab.ipynb executed top to bottom by a real kernel (nbclient, ipykernel) on the
CPU at tiny settings, then its training cell once more, as a person does after a disconnect.

The kernel is this interpreter (a kernelspec written for the test: sys.executable, and this
ganvas on its PYTHONPATH), whatever kernels the machine has installed."""

from __future__ import annotations

import ast
import base64
import copy
import io
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageSequence

import ganvas
from ganvas.runfolder.read import read_run

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbformat "
                               "(pip install -e '.[test]')")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs nbclient "
                               "(pip install -e '.[test]')")
pytest.importorskip("ipykernel", reason="the notebook test needs ipykernel for its kernel "
                    "(pip install -e '.[test]')")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402  (after the skips)
from jupyter_client.manager import KernelManager  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "colab.ipynb"
KERNEL = "ganvas-test"
SHAPES = 40
WALK_FRAMES = 4 * 16               # the walk cell: 4 seeds, a loop, 16 frames per step
SEEDS = 16                         # the pictures cell


def tiny_parameters(data: Path, out: Path) -> dict:
    """The parameters cell's values for a CPU run of a few seconds."""
    return {"DATA": str(data), "OUT": str(out), "RESOLUTION": 16, "MODEL": "dcgan-tiny",
            "MINUTES": 0.05,
            "OPTIONS": {"batch": 16, "snap_kimg": 0.128, "tick_kimg": 0.064, "grid_size": 16}}


def draw_shapes(folder: Path, n: int = SHAPES) -> Path:
    """n small pictures of coloured squares and discs on white, as a folder on Drive holds."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        picture = Image.new("RGB", (24, 24), "white")
        x, y = (int(v) for v in rng.integers(0, 10, 2))
        box = (x, y, x + 13, y + 13)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        draw = ImageDraw.Draw(picture)
        (draw.ellipse if i % 2 else draw.rectangle)(box, fill=colour)
        picture.save(folder / f"shape{i:02d}.png")
    return folder


def tagged(nb, tag: str) -> int:
    """The index of the one cell with `tag`."""
    found = [i for i, cell in enumerate(nb.cells) if tag in cell.metadata.get("tags", [])]
    assert len(found) == 1, f"{len(found)} cells tagged {tag!r}"
    return found[0]


def assigned_names(source: str) -> set[str]:
    return {target.id for node in ast.parse(source).body if isinstance(node, ast.Assign)
            for target in node.targets}


def kernel_manager(folder: Path) -> KernelManager:
    """A kernel of this interpreter importing this ganvas, from a kernelspec in `folder`."""
    spec = folder / KERNEL
    spec.mkdir(parents=True)
    source = str(Path(ganvas.__file__).resolve().parents[1])
    path = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "ganvas test", "language": "python",
        "env": {"PYTHONPATH": path, "GANVAS_CACHE": os.environ["GANVAS_CACHE"]}}))
    return KernelManager(kernel_name=KERNEL,
                         kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(folder)]))


def runs_in(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and (p / "config.json").is_file())


def text_of(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def printed_run(cell) -> Path:
    found = re.findall(r"^run: (.+)$", text_of(cell), re.M)
    assert len(found) == 1, text_of(cell)
    return Path(found[0])


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook run top to bottom, then its training cell again in the same kernel."""
    root = tmp_path_factory.mktemp("colab")
    out = root / "drive" / "ganvas"
    values = tiny_parameters(draw_shapes(root / "drive" / "pictures"), out)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = nb.cells[tagged(nb, "parameters")]
    assert assigned_names(params.source) == set(values), "the test sets every parameter"
    params.source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    client = nbclient.NotebookClient(nb, km=kernel_manager(root / "kernels"), timeout=120,
                                     resources={"metadata": {"path": str(root)}})
    train = tagged(nb, "train")
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        first = {"runs": runs_in(out), "cell": copy.deepcopy(nb.cells[train])}
        first["kimg"] = read_run(first["runs"][-1]).kimg
        first["newest grid"] = read_run(first["runs"][-1]).samples[-1]
        client.execute_cell(nb.cells[train], train)
    return {"nb": nb, "out": out, "first": first, "again": nb.cells[train]}


def shown(cell, mime: str):
    """The one display output of `mime` in a cell."""
    found = [o.data[mime] for o in cell.outputs
             if o.output_type in ("display_data", "execute_result") and mime in o.data]
    assert len(found) == 1, [o.output_type for o in cell.outputs]
    return found[0]


def png_pixels(b64: str) -> np.ndarray:
    data = base64.b64decode(b64)
    assert data.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im)


def test_committed_notebook_has_no_outputs_and_valid_cells():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    for cell in code:
        ast.parse(cell.source)                         # plain Python, no shell magics
    assert nb.metadata.get("accelerator") == "GPU"     # Colab opens it on a GPU runtime
    for tag in ("install", "drive", "parameters", "prepare", "train", "samples", "walk",
                "pictures"):
        tagged(nb, tag)


def test_notebook_runs_top_to_bottom_and_shows_pictures(executed):
    nb, out = executed["nb"], executed["out"]
    for cell in [c for c in nb.cells if c.cell_type == "code"]:
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
    for tag in ("install", "drive"):                   # outside Colab they do nothing
        assert nb.cells[tagged(nb, tag)].outputs == []
    assert "kept 40" in text_of(nb.cells[tagged(nb, "prepare")])
    (run,) = executed["first"]["runs"]
    assert printed_run(executed["first"]["cell"]) == run and executed["first"]["kimg"] > 0

    with Image.open(executed["first"]["newest grid"]) as im:
        newest = np.asarray(im)
    samples = png_pixels(shown(nb.cells[tagged(nb, "samples")], "image/png"))
    scale = samples.shape[0] // newest.shape[0]
    assert scale > 1 and np.array_equal(samples[::scale, ::scale], newest)

    html = shown(nb.cells[tagged(nb, "walk")], "text/html")
    gif = re.search(r'src="data:image/gif;base64,([A-Za-z0-9+/=]+)"', html)
    assert gif, html[:200]
    with Image.open(io.BytesIO(base64.b64decode(gif.group(1)))) as im:
        assert im.format == "GIF" and sum(1 for _ in ImageSequence.Iterator(im)) == WALK_FRAMES

    pictures = sorted(p.name for p in (out / "pictures").iterdir())
    assert pictures == sorted([f"seed{s:04d}.png" for s in range(SEEDS)] + ["grid.png"])
    grid = png_pixels(shown(nb.cells[tagged(nb, "pictures")], "image/png"))
    with Image.open(out / "pictures" / "grid.png") as im:
        saved = np.asarray(im)
    scale = grid.shape[0] // saved.shape[0]
    assert np.array_equal(grid[::scale, ::scale], saved)


def test_running_the_training_cell_again_continues_the_run(executed):
    (run,) = executed["first"]["runs"]
    again = executed["again"]
    assert not [o for o in again.outputs if o.output_type == "error"]
    assert runs_in(executed["out"]) == [run]           # no new run folder
    assert printed_run(again) == run
    assert "continu" in text_of(again).lower()         # it says it continues
    assert read_run(run).kimg > executed["first"]["kimg"]
