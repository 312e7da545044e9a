"""Training data: resolve a dataset argument, hold its images as uint8, serve batches.

Images stay uint8 NHWC in memory (or memory-mapped from a decoded cache when large); a batch is
gathered, converted to float and mirrored on tensors, so no image is decoded during training.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..aspect import SQUARE, describe, image_shape
from ..durable import publish
from ..errors import GanvasError
from ..paths import cache_dir
from .archive import (Archive, decode_images, file_hash, is_archive, labels_of, meta_shape,
                      read_archive, read_meta)
from .demo import demo_archive, is_demo_spec
from .prepare import count_image_files, prepare_cached

# Decoded datasets larger than this are memory-mapped from a .npy cache instead of held in RAM.
MEMMAP_BYTES = int(os.environ.get("GANVAS_MEMMAP_BYTES", 2 << 30))


def locate_dataset(spec: str) -> Path:
    """DATA argument -> the demo archive, the archive file or the image folder it names, with
    a GanvasError for anything else; writes nothing (safe for a dry run)."""
    if is_demo_spec(spec):
        return demo_archive(spec.split(":", 1)[1])
    path = Path(spec)
    if not path.exists():
        raise GanvasError(f"dataset not found: {spec}")
    if not path.is_dir() and not is_archive(path):
        raise GanvasError(f"{spec} is neither an image folder nor a ganvas dataset archive")
    return path


def resolve_dataset(spec: str, resolution: int = 64, channels: int = 3,
                    labels: str = "none") -> Path:
    """DATA argument -> an archive path: demo:NAME, an archive file, or an image folder
    (prepared once into the cache at `resolution` and `channels`, labels from its sub-folders
    when `labels` is "folders")."""
    path = locate_dataset(spec)
    if path.is_dir():
        return prepare_cached(path, resolution=resolution, channels=channels, labels=labels)
    return path


def open_training_images(spec: str, resolution: int, channels: int = 3,
                         conditional: bool = False, *,
                         expected_hash: str | None) -> tuple[Archive, "ImageBank"]:
    """The archive and an ImageBank at `resolution` of the data a model was trained on, found
    the way training found it (an image folder maps to the same prepared cache only with the
    same channels and labels).

    expected_hash: the sha256 of the archive's content that the run recorded (model.json
    "dataset"."sha256"). The data is used only if it still hashes to it, so a crafted or
    moved run cannot pull some other dataset into a metric or a shared report; None (nothing
    recorded) is refused the same way. The one place eval, memorization and the report
    open a run's data.
    """
    if not expected_hash:
        raise GanvasError(f"the run does not record the content hash of its dataset {spec}, "
                          f"so it cannot be checked to be the one it was trained on")
    path = resolve_dataset(spec, resolution=resolution, channels=channels,
                           labels="folders" if conditional else "none")
    digest = file_hash(path)       # before decoding: a wrong dataset costs one read, no more
    if digest != expected_hash:
        raise GanvasError(f"the dataset {spec} has changed or is not the one the run was "
                          f"trained on (sha256 {digest[:12]}, the run recorded "
                          f"{str(expected_hash)[:12]})")
    archive = load_archive(path, digest=digest)
    return archive, ImageBank(archive, resolution=resolution)


def recorded_dataset(info: dict, where) -> tuple[str, str | None]:
    """(DATA argument, sha256 of its content or None) that a model.json's "dataset" records;
    GanvasError when it names none (an exported model of another tool, a crafted file)."""
    record = info.get("dataset") if isinstance(info, dict) else None
    name = record.get("name") if isinstance(record, dict) else None
    if not isinstance(name, str) or not name:
        raise GanvasError(f"{where} does not say which dataset it was trained on")
    digest = record.get("sha256")
    return name, digest if isinstance(digest, str) else None


def subset_indices(total: int, num: int, seed: int = 0) -> torch.Tensor:
    """A fixed random subset of `num` of range(total), in increasing order (int64)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(total, generator=gen)[:num].sort().values


def peek_resolution(spec: str, default: int = 64) -> int:
    """The resolution a run on DATA gets when none is asked: an archive's own (read from its
    dataset.json, nothing decoded); an image folder is prepared at `default`."""
    if is_demo_spec(spec) or (Path(spec).is_file() and is_archive(Path(spec))):
        return int(read_meta(resolve_dataset(spec))["resolution"])
    return default


def peek_image_count(spec: str) -> int:
    """The number of images in DATA, nothing decoded: an archive's (its dataset.json), an
    image folder's image files (prepare may still skip some it cannot use)."""
    path = locate_dataset(spec)
    return count_image_files(path) if path.is_dir() else int(read_meta(path)["num_images"])


def load_archive(path: Path, digest: str | None = None) -> Archive:
    """Decode an archive; big ones go through a memory-mapped .npy cache keyed by content.
    `digest`: its file_hash when the caller has computed it already."""
    meta = read_meta(path)
    if meta["num_images"] == 0:
        raise GanvasError(f"dataset {path} is empty")
    res, ch, n = meta["resolution"], meta["channels"], meta["num_images"]
    h, w = meta_shape(meta)
    if n * h * w * ch <= MEMMAP_BYTES:
        return read_archive(path, digest=digest)
    digest = digest or file_hash(path)
    images = decoded_cache(path, meta, cache_dir("decoded") / f"{digest}.npy")
    return Archive(images=images, labels=labels_of(meta), class_names=list(meta["class_names"]),
                   resolution=res, channels=ch, meta=meta, content_hash=digest,
                   aspect=meta.get("aspect", SQUARE))


def decoded_cache(path: Path, meta: dict, cached: Path) -> np.ndarray:
    """The archive's images as a read-only uint8 (N, H, W, C) memory map of `cached`,
    decoded into it first when it is missing, unreadable or of the wrong shape or dtype
    (a truncated file, another version's layout, a stray file under that name)."""
    shape = (meta["num_images"], *meta_shape(meta), meta["channels"])
    images = _open_cache(cached, shape)
    if images is None:
        _build_cache(path, meta, cached, shape)
        images = _open_cache(cached, shape)
    if images is None:
        raise GanvasError(f"the decoded cache {cached} cannot be read back after writing it")
    return images


def _open_cache(cached: Path, shape: tuple) -> np.ndarray | None:
    """The memory map when `cached` is a readable .npy of `shape` uint8, else None."""
    try:
        images = np.load(cached, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError):           # missing, truncated, not a .npy
        return None
    if not isinstance(images, np.ndarray) or images.shape != shape or images.dtype != np.uint8:
        return None
    return images


def _build_cache(path: Path, meta: dict, cached: Path, shape: tuple) -> None:
    """Decode into a temporary beside `cached` and publish it; the full-size temporary is
    removed on any failure, Ctrl-C included."""
    tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        decode_images(path, meta, out)
        out.flush()
        del out
        publish(tmp, cached)
    except OSError as e:           # disk full, a read-only cache, a folder in the way
        raise GanvasError(f"cannot write the decoded cache {cached}: {e.strerror or e}") \
            from None
    finally:
        tmp.unlink(missing_ok=True)


class ImageBank:
    """Shuffled-epoch minibatches from uint8 NHWC images.

    Its whole state (the epoch's permutation and position) is in state_dict(), and all
    randomness comes from the torch.Generator passed to batch(), so a resumed run draws exactly
    the batches an uninterrupted one would.
    """

    def __init__(self, archive: Archive, resolution: int | None = None, mirror: bool = False):
        self.images = archive.images
        self.labels = None if archive.labels is None else torch.from_numpy(archive.labels)
        self.resolution = resolution or archive.resolution
        if self.resolution > archive.resolution:
            raise GanvasError(f"the dataset is {describe(archive.resolution, archive.aspect)}; "
                              f"a {self.resolution}px model needs it prepared at that size")
        self.shape = image_shape(self.resolution, archive.aspect)        # (H, W) of a batch
        self.mirror = mirror
        self.perm = torch.empty(0, dtype=torch.int64)
        self.pos = 0

    def __len__(self) -> int:
        return len(self.images)

    def _next_indices(self, n: int, gen: torch.Generator) -> torch.Tensor:
        parts, need = [], n
        while need:
            if self.pos >= len(self.perm):
                self.perm, self.pos = torch.randperm(len(self), generator=gen), 0
            take = self.perm[self.pos:self.pos + need]
            self.pos += len(take)
            need -= len(take)
            parts.append(take)
        return torch.cat(parts)

    def batch(self, n: int, gen: torch.Generator,
              shard: slice | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """n reals as float (n, C, H, W) in [-1, 1] on the CPU, and their labels (or None).
        `shard`: only that part of the n (one process's share of a global batch); the draws
        are those of the whole batch, so every process keeps the same order and together they
        read what one process would."""
        idx = self._next_indices(n, gen)
        flip = torch.rand(n, generator=gen) < 0.5 if self.mirror else None
        # Sorted gathering reads a memory map sequentially; the order within a batch is
        # irrelevant to the losses.
        idx = idx.sort().values
        if shard is not None:
            idx = idx[shard]
            flip = None if flip is None else flip[shard]
        x = self.images_at(idx)
        if flip is not None:
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        labels = None if self.labels is None else self.labels[idx]
        return x, labels

    def images_at(self, idx: torch.Tensor) -> torch.Tensor:
        """Images at indices idx (n,) as float (n, C, H, W) in [-1, 1] on the CPU."""
        x = torch.from_numpy(np.ascontiguousarray(self.images[idx.numpy()]))
        x = x.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
        if tuple(x.shape[-2:]) != self.shape:
            x = F.interpolate(x, size=self.shape, mode="area")
        return x

    def state_dict(self) -> dict:
        return {"perm": self.perm.clone(), "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.perm, self.pos = state["perm"].clone(), int(state["pos"])
