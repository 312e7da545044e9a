"""Weight files of the standard feature networks: where they come from, where they are kept.

A weight file is found, in this order:
1. a path the user gives (`--feature-weights NAME=PATH`, or just PATH when one network is in
   use; Python: `weights=`),
2. the environment variable named in its entry (e.g. GANVAS_WEIGHTS_INCEPTION_V3=PATH),
3. ganvas's cache (`<cache>/weights/<filename>`, see ganvas.paths.cache_dir),
4. a download into that cache (at most MAX_DOWNLOAD_BYTES), checked against the sha256 prefix
   that the file's name carries (the torch.hub convention the original publishers use) and,
   where the entry pins it, the file's full sha256.
Offline with none of these, the error names the file, its URL and where to put it.

A file from 1 or 2 is not required to be the official one (tests use random weights), but its
checksum is reported with every number measured on it: `official` says whether the numbers are
comparable with papers.

The bytes that are checked are the bytes that are loaded: a file is read into memory once,
hashed, and torch.load reads that same buffer (a file swapped on disk between the check and
the load cannot slip through).

Pinning: `WeightFile.sha256` is the full sha256 of the published file, required for the
cache, local paths marked official and downloads; a file with the right prefix but another
full hash is refused. Both pins agree with the publishers' prefixes and with the full hashes
other projects record for the same files (pytorch-fid pins the Inception file's; the VGG-16
file's is recorded by several). An entry with an empty sha256 would fall back to the prefix.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import GanvasError
from ..download import download
from ..paths import cache_dir
from ..registry import Registry

MAX_DOWNLOAD_BYTES = 1 << 30     # the published files are ~92 MB (Inception) and ~528 MB (VGG-16)
MAX_FILE_BYTES = 2 << 30         # a local weight file is read into memory whole


@dataclass(frozen=True)
class WeightFile:
    """A published weight file.

    Attributes:
        filename: its name in the cache (the publisher's name, which carries the checksum).
        url: where it is downloaded from.
        sha256_prefix: the first hex digits of its sha256.
        env: the environment variable that may point to a local copy.
        sha256: its full sha256 ("" = not pinned yet: only the prefix is checked); see the
            module docstring.
    """

    filename: str
    url: str
    sha256_prefix: str
    env: str
    sha256: str = ""

    def matches(self, digest: str) -> bool:
        """The full hash when it is pinned, else the prefix."""
        if self.sha256:
            return digest == self.sha256.lower()
        return digest.startswith(self.sha256_prefix)

    def expected(self) -> str:
        return self.sha256 or f"{self.sha256_prefix}..."


WEIGHTS: Registry[WeightFile] = Registry("feature weights")
WEIGHTS.register("inception-v3")(WeightFile(
    # The TF Inception graph of 2015-12-05 (the FID reference), as torch-fidelity converts it.
    "weights-inception-2015-12-05-6726825d.pth",
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
    "weights-inception-2015-12-05-6726825d.pth",
    "6726825d", "GANVAS_WEIGHTS_INCEPTION_V3",
    sha256="6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"))
WEIGHTS.register("vgg16")(WeightFile(
    # torchvision's ImageNet VGG-16, which torch-fidelity uses for precision/recall.
    "vgg16-397923af.pth", "https://download.pytorch.org/models/vgg16-397923af.pth",
    "397923af", "GANVAS_WEIGHTS_VGG16",
    sha256="397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0"))


@dataclass(frozen=True)
class ResolvedWeights:
    """A weight file on disk and what is known about it."""

    path: Path
    sha256: str
    official: bool
    data: bytes = field(default=b"", repr=False, compare=False)   # the bytes hashed (and loaded)

    def describe(self) -> dict:
        """For the metrics JSON: which file the numbers were measured with."""
        return {"file": str(self.path), "sha256": self.sha256, "official": self.official}


def read_bytes(path: Path) -> tuple[bytes, str]:
    """The file's bytes (at most MAX_FILE_BYTES) and their sha256, from one read."""
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise GanvasError(f"{path} is bigger than {MAX_FILE_BYTES >> 20} MB: not a weight file "
                          f"of these networks")
    return data, hashlib.sha256(data).hexdigest()


def cached_path(name: str) -> Path:
    """Where the cache keeps the weight file of network `name`."""
    return cache_dir("weights") / WEIGHTS.get(name).filename


def how_to_provide(name: str) -> str:
    entry = WEIGHTS.get(name)
    return (f"download {entry.url} and put it at {cached_path(name)}, or pass "
            f"--feature-weights {name}=PATH, or set {entry.env}=PATH")


def at_hand(name: str) -> bool:
    """Whether the weights of `name` can be had without a download: the environment variable
    names a file, or the cache holds one (checked when loaded, not here)."""
    given = os.environ.get(WEIGHTS.get(name).env)
    return Path(given).expanduser().is_file() if given else cached_path(name).is_file()


def resolve_weights(name: str, path: str | os.PathLike | None = None,
                    download: bool = True) -> ResolvedWeights:
    """The weight file of feature network `name` (see the module docstring for the order)."""
    entry = WEIGHTS.get(name)
    given = path or os.environ.get(entry.env)
    if given:
        given = Path(given).expanduser()
        if not given.is_file():
            source = "--feature-weights" if path else entry.env
            raise GanvasError(f"{name} weights not found: {given} (from {source})")
        data, digest = read_bytes(given)
        return ResolvedWeights(given, digest, entry.matches(digest), data)
    target = cached_path(name)
    if not target.is_file():
        if not download:
            raise GanvasError(f"{name} weights {entry.filename} are not in the cache; "
                              + how_to_provide(name))
        fetch(name, target)
    data, digest = read_bytes(target)
    if not entry.matches(digest):
        raise GanvasError(f"{target} is damaged (sha256 {digest[:16]}..., expected "
                          f"{entry.expected()}); delete it to download it again")
    return ResolvedWeights(target, digest, True, data)


def fetch(name: str, target: Path) -> Path:
    """Download the weights of `name` to `target` (ganvas.download: capped, checked before
    the file appears there)."""
    entry = WEIGHTS.get(name)
    return download(entry.url, target, MAX_DOWNLOAD_BYTES,
                    lambda digest: None if entry.matches(digest)
                    else f"expected {entry.expected()}",
                    "offline, " + how_to_provide(name), entry.filename)


def load_state_dict(weights: ResolvedWeights) -> dict[str, torch.Tensor]:
    """The file's tensors, without running any pickled code (weights_only), read from the
    bytes that were hashed (weights.data; the file only when none were kept)."""
    source = io.BytesIO(weights.data) if weights.data else weights.path
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as e:      # a truncated file, a pickle with code, not a torch file ...
        raise GanvasError(f"cannot read {weights.path} as a state dict: "
                          f"{str(e).splitlines()[0]}") from None
    if not isinstance(state, dict):
        raise GanvasError(f"{weights.path} holds a {type(state).__name__}, not a state dict")
    return state


def load_into(net: torch.nn.Module, name: str, path: str | os.PathLike | None = None,
              download: bool = True, prefix: str = "", extra: tuple[str, ...] = ()) -> dict:
    """Load the weight file of network `name` (found by resolve_weights) into `net` and return
    its description. The file's key for net's tensor K is prefix + K; keys under the `extra`
    prefixes may be left over (e.g. a classifier the net does not have). A file for another
    network is one clear error naming what is missing or unexpected."""
    resolved = resolve_weights(name, path, download=download)
    state = load_state_dict(resolved)
    wanted = {prefix + k: k for k in net.state_dict()}
    missing = sorted(set(wanted) - set(state))
    unexpected = sorted(k for k in state if k not in wanted and not k.startswith(extra or "\0"))
    if missing or unexpected:
        raise GanvasError(f"{resolved.path} does not hold {name} weights (missing "
                          f"{len(missing)} tensors, e.g. {missing[:1]}; unexpected "
                          f"{len(unexpected)}, e.g. {unexpected[:1]})")
    try:
        net.load_state_dict({k: state[f] for f, k in wanted.items()})
    except RuntimeError as e:
        raise GanvasError(f"{resolved.path}: {str(e).splitlines()[-1].strip()}") from None
    return resolved.describe()
