"""Other tools' network pickles as MODEL arguments: NVlabs' StyleGAN2-ADA, StyleGAN3 and
TensorFlow StyleGAN2 files, given as a path or a URL (`URL#sha256=HEX` pins the file), read
without running anything in them (ganvas.nvlabs), converted to a ganvas family
(ganvas.convert) and kept in memory (ganvas.load, every verb, --init-from) or written once as
an ordinary ganvas model folder (`ganvas import`)."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch.nn as nn

from .. import checkpoint as ckpt
from ..config.presets import recipe_for
from ..convert import Converted, convert_pickle
from ..download import download
from ..errors import GanvasError
from ..models import build_discriminator, build_generator, check_model
from ..nvlabs import read_network_pickle
from ..nvlabs.read import MAX_FILE_BYTES
from ..outputs import check_new_folder
from ..paths import cache_dir
from .snapshots import write_snapshot

URL_SCHEMES = ("http://", "https://", "file://")
PICKLE_SUFFIX = ".pkl"
MAX_DOWNLOAD_BYTES = 2 << 30        # NVlabs' released pickles are at most ~0.4 GB
_SNAPSHOT_KIMG = re.compile(r"network-snapshot-(\d{1,9})\.pkl$", re.IGNORECASE)
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass
class Imported:
    """A network pickle converted: the networks and the model.json they would be saved with."""

    converted: Converted
    info: dict
    path: Path                      # the file read (the cached download for a URL)

    def generator(self, which: str = "G_ema") -> nn.Module:
        """A fresh ganvas generator holding the pickle's `which` (G_ema or G), eval mode."""
        state = getattr(self.converted, which)
        if state is None:
            raise GanvasError(f"{self.path.name} has no {which}")
        G = build_generator(self.converted.cfg)
        G.load_state_dict(state)
        return G.eval().requires_grad_(False)

    def discriminator(self) -> nn.Module:
        if self.converted.D is None:
            raise GanvasError(f"{self.path.name} has no discriminator D")
        D = build_discriminator(self.converted.cfg)
        D.load_state_dict(self.converted.D)
        return D

    def describe(self) -> str:
        """'sg2ada.pkl: stylegan2-ada-pytorch StyleGAN2, 256x256, 480 kimg'"""
        cfg, kimg = self.converted.cfg, self.info["kimg"]
        return (f"{self.path.name}: {self.converted.source}, {cfg.resolution} px"
                + (f", {cfg.num_classes} classes" if cfg.num_classes else "")
                + (f", {kimg:g} kimg" if kimg else ""))


def is_network_pickle(model: str | os.PathLike) -> bool:
    """Whether a MODEL argument names a network pickle (a .pkl path, or a URL)."""
    text = str(model)
    return text.lower().startswith(URL_SCHEMES) or \
        text.split("#", 1)[0].lower().endswith(PICKLE_SUFFIX)


def split_pin(spec: str) -> tuple[str, str | None]:
    """'URL#sha256=HEX' -> (URL, hex); a bad pin is a GanvasError."""
    location, _, fragment = spec.partition("#")
    if not fragment:
        return location, None
    key, _, digest = fragment.partition("=")
    digest = digest.lower()
    if key != "sha256" or not _SHA256.fullmatch(digest):
        raise GanvasError(f"{spec}: after '#' give sha256=<64 hex digits> to pin the file")
    return location, digest


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def kimg_of(name: str) -> int:
    """The kimg an NVlabs snapshot's name carries (network-snapshot-000480.pkl: 480), else 0."""
    match = _SNAPSHOT_KIMG.search(name)
    return int(match.group(1)) if match else 0


def fetched(url: str, sha256: str | None) -> Path:
    """A URL's pickle in the cache (`<cache>/networks`), downloaded once; with a pin, the
    cached or downloaded file must have that sha256."""
    name = Path(url.split("?", 1)[0]).name or "network.pkl"
    target = cache_dir("networks") / f"{hashlib.sha256(url.encode()).hexdigest()[:12]}-{name}"
    if not target.is_file():
        download(url, target, MAX_DOWNLOAD_BYTES,
                 lambda digest: None if sha256 in (None, digest) else f"expected {sha256}",
                 "download it by hand and give its path", name)
    elif sha256 is not None and file_sha256(target) != sha256:
        raise GanvasError(f"{target} (the cached {name}) does not have sha256 {sha256}; "
                          "delete it to download it again")
    return target


def locate(spec: str) -> tuple[Path, str | None]:
    """A MODEL argument naming a pickle -> (the local file, the pin if any)."""
    location, pin = split_pin(spec)
    if location.lower().startswith(URL_SCHEMES):
        return fetched(location, pin), pin
    path = Path(location).expanduser()
    if not path.is_file():
        raise GanvasError(f"no such network pickle: {path}")
    return path, pin


def read_imported(spec: str | os.PathLike) -> Imported:
    """A network pickle (path or URL) read without running it and converted; a GanvasError
    naming what cannot follow."""
    path, pin = locate(str(spec))
    stat = path.stat()
    return _read(str(path.resolve()), stat.st_mtime_ns, stat.st_size, pin)


@lru_cache(maxsize=2)           # a verb and --init-from may ask for the same file twice
def _read(path_text: str, mtime_ns: int, size: int, pin: str | None) -> Imported:
    path = Path(path_text)
    if size > MAX_FILE_BYTES:
        raise GanvasError(f"{path.name}: {size:,} bytes is larger than any network pickle "
                          f"(limit {MAX_FILE_BYTES:,})")
    content = path.read_bytes()         # the bytes hashed are the bytes read
    digest = hashlib.sha256(content).hexdigest()
    if pin is not None and digest != pin:
        raise GanvasError(f"{path.name} has sha256 {digest[:16]}..., expected {pin}")
    net = read_network_pickle(path, content)
    converted = convert_pickle(net)
    try:
        check_model(converted.cfg)
    except GanvasError as e:
        raise GanvasError(f"{path.name}: {e}") from None
    kimg = kimg_of(path.name)
    info = ckpt.model_info(converted.cfg, kimg * 1000, {}, recipe_for(converted.cfg.family))
    info["imported"] = {"file": path.name, "sha256": digest, "format": net.format,
                        "network": converted.source, "augment_p": converted.augment_p,
                        "kimg": kimg}
    return Imported(converted, info, path)


def write_imported(spec: str | os.PathLike, out: str | os.PathLike) -> Path:
    """`ganvas import`: the pickle as a ganvas model folder `out` (model.json, G_ema and, where
    the file has them, G and D; the augmentation p in model.json), written whole or not at
    all, into a new or empty folder."""
    check_new_folder(out, "import")
    imported = read_imported(spec)
    modules = {"G_ema": imported.generator("G_ema")}
    if imported.converted.G is not None:
        modules["G"] = imported.generator("G")
    if imported.converted.D is not None:
        modules["D"] = imported.discriminator()
    return write_snapshot(Path(out), modules, imported.info)
