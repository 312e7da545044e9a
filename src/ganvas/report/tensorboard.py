"""TensorBoard event files for a run (run_dir/tensorboard/), when tensorboard is installed.

Without tensorboard (or with a broken install) a TensorBoardLog is a silent no-op: `enabled`
is False, `reason` says why, and every method returns at once. jsonl files stay the record of
a run; the event files are a view of it.

Steps: every value is logged at step = images shown to D (round(kimg * 1000)), so steps of
runs with different batch sizes line up, and a resumed run continues the same axis. Tags:
"train/<stats key>" for each number of a stats.jsonl tick, "metrics/<name>" for metrics.jsonl,
and images under the tag the caller gives (e.g. "samples").
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np

SKIP_KEYS = {"kimg", "time"}          # the step itself, and the wall time (passed as walltime)


def kimg_step(kimg: float) -> int:
    """kimg -> the event step: images shown to D."""
    return round(kimg * 1000)


def numeric(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def quiet_writer_thread() -> None:
    """TensorBoard's writer thread hands a failed write (a full disk) to the foreground, whose
    next call raises it (one line from the CLI), and then re-raises it in the thread, where
    threading's hook prints it as a traceback too: drop that second telling (once, for
    TensorBoard's writer thread and OSError only)."""
    previous = threading.excepthook
    if getattr(previous, "quiets_tensorboard", False):
        return

    def hook(args):
        if not (type(args.thread).__name__ == "_AsyncWriterThread"
                and issubclass(args.exc_type, OSError)):
            previous(args)

    hook.quiets_tensorboard = True
    threading.excepthook = hook


class TensorBoardLog:
    """Scalars and images of one run, written to run_dir/tensorboard/.

    purge_kimg: on a resume, the kimg training continues from (its snapshot's); events that
    an earlier session logged after it are hidden by TensorBoard, so the curves do not double
    back. write=False: a silent log (a process of many other than the main one)."""

    def __init__(self, run_dir: str | Path, purge_kimg: float | None = None,
                 write: bool = True):
        self.log_dir = Path(run_dir) / "tensorboard"
        self.writer = None
        self.reason = ""
        if not write:
            self.reason = "the main process writes the events"
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except Exception as e:       # ImportError, or a tensorboard/protobuf mismatch
            self.reason = f"tensorboard is not available ({type(e).__name__}: {e})"
            return
        quiet_writer_thread()
        # Events after purge's step are hidden; the tick logged at it came before the snapshot
        # training continues from, so it stays.
        self._open = lambda purge: SummaryWriter(
            log_dir=str(self.log_dir),
            purge_step=None if purge is None else kimg_step(purge) + 1)
        self.writer = self._open(purge_kimg)

    @property
    def enabled(self) -> bool:
        """True when events are written (tensorboard importable and the log not closed)."""
        return self.writer is not None

    def scalars(self, kimg: float, values: dict, prefix: str = "train/") -> None:
        """Each finite number in `values` (a stats.jsonl tick, say) as `prefix + key` at
        kimg's step; lists, strings, flags and NaN are skipped. A "time" key (seconds since
        the epoch) becomes the events' wall time."""
        if self.writer is None:
            return
        walltime = values.get("time") if numeric(values.get("time")) else None
        for key, v in values.items():
            if key not in SKIP_KEYS and numeric(v):
                self.writer.add_scalar(f"{prefix}{key}", float(v), kimg_step(kimg),
                                       walltime=walltime)

    def metrics(self, entry: dict) -> None:
        """One metrics.jsonl line ({"kimg", "metrics": {name: value}}) as metrics/<name>."""
        self.scalars(entry["kimg"], entry.get("metrics", {}), prefix="metrics/")

    def image(self, tag: str, image: np.ndarray, kimg: float) -> None:
        """A uint8 (H, W, C) picture (C = 1, 3 or 4), e.g. the snapshot grid, at kimg's step."""
        if self.writer is None:
            return
        if image.shape[-1] == 1:                  # TensorBoard shows grey as RGB
            image = np.repeat(image, 3, axis=-1)
        self.writer.add_image(tag, np.ascontiguousarray(image), kimg_step(kimg),
                              dataformats="HWC")

    def rewind(self, kimg: float) -> None:
        """Training went back to `kimg` (a rollback): hide the events logged after it."""
        if self.writer is not None:
            self.writer.close()
            self.writer = self._open(kimg)

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        """Write everything out; later calls are no-ops."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def __enter__(self) -> "TensorBoardLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
