"""Demo datasets shipped inside the package, named on the command line as "demo:NAME".

Each is a ready-made dataset archive (see ganvas.data.archive) built at development time by a
script under scripts/; nothing is downloaded or built at run time. README.md in this folder
describes each one, and LICENSE-<name>.txt gives its license.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from ...errors import GanvasError
from ..archive import read_archive

# name -> archive file in this folder
DEMO_DATASETS: dict[str, str] = {
    "emoji": "emoji.zip",   # ~1,860 Noto Color Emoji at 64x64 RGB, 9 Unicode groups, Apache-2.0
}

PREFIX = "demo:"


def is_demo_spec(spec: str) -> bool:
    """True for dataset specs of the form "demo:NAME" (NAME need not exist)."""
    return isinstance(spec, str) and spec.startswith(PREFIX) and len(spec) > len(PREFIX)


def demo_name(spec: str) -> str:
    """NAME from "demo:NAME" (a bare NAME is returned as is)."""
    return spec[len(PREFIX):] if spec.startswith(PREFIX) else spec


def demo_archive(name: str) -> Path:
    """Path of the shipped archive for demo dataset `name` ("emoji" or "demo:emoji").

    Raises GanvasError, listing the available names, for an unknown name or a missing file.
    """
    name = demo_name(name)
    if name not in DEMO_DATASETS:
        raise GanvasError(f"unknown demo dataset {name!r}; available: "
                          f"{', '.join(sorted(DEMO_DATASETS))} (use demo:NAME)")
    # The package is installed as plain files (zip-safe installs are not supported), so the
    # resource is a real path that readers can open and hash.
    path = Path(str(resources.files(__package__).joinpath(DEMO_DATASETS[name])))
    if not path.is_file():
        raise GanvasError(f"demo dataset {name!r} is missing from this installation "
                          f"({path}); reinstall ganvas")
    return path


def demo_pictures(name: str, n: int, size: int) -> np.ndarray:
    """The first `n` pictures of demo dataset `name` (uint8 NHWC), resized (bicubic) to
    size x size when that is not their own size."""
    images = read_archive(demo_archive(name)).images[:n]
    if images.shape[1] == size:
        return np.ascontiguousarray(images)
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BICUBIC))
                     for im in images])
