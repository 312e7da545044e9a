"""What a person sees while a run trains: where it is and when it ends (RunClock), the tick
line (tick_line), and when lines and grids are due by wall time (Cadence).

A run is bounded in kimg, in minutes, or both. Its ETA comes from the images per second of
this session so far, snapshots and measurements included (so their pauses are in it), and a
deadline in minutes caps it.
"""

from __future__ import annotations

import math
import time


def clock_text(seconds: float) -> str:
    """3725 -> '1:02:05'; 65 -> '1:05'."""
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class RunClock:
    """The run's position against its bounds, for the tick lines and the progress bar."""

    def __init__(self, images_seen: int, target: int | None, minutes: float | None,
                 now: float | None = None):
        self.start = time.monotonic() if now is None else now
        self.start_images = images_seen
        self.target, self.minutes = target, minutes

    def elapsed(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.start

    def remaining(self, images_seen: int, now: float | None = None) -> float | None:
        """Seconds left: to the target at this session's rate so far, and at most to the
        deadline; None before any image (no rate yet) when only kimg bounds the run."""
        elapsed = self.elapsed(now)
        left = []
        if self.minutes is not None:
            left.append(max(0.0, self.minutes * 60 - elapsed))
        done = images_seen - self.start_images
        if self.target is not None and done > 0 and elapsed > 0:
            left.append(max(0, self.target - images_seen) * elapsed / done)
        return min(left) if left else None

    def fraction(self, images_seen: int, now: float | None = None) -> float:
        """How far the run is, 0..1: in kimg when bounded in kimg, else in time."""
        if self.target is not None:
            return min(1.0, images_seen / max(self.target, 1))
        return min(1.0, self.elapsed(now) / max(self.minutes * 60, 1e-9))

    def position(self, images_seen: int, now: float | None = None) -> str:
        """'kimg 12.0/40 (30%), 1:05 in, ETA 2:31' or 'kimg 12.0, 1:05 of 2:00 (54%), ETA
        0:55'."""
        kimg = images_seen / 1000
        pct = f"{100 * self.fraction(images_seen, now):.0f}%"
        left = self.remaining(images_seen, now)
        eta = "ETA " + ("-" if left is None else clock_text(left))
        if self.target is not None:
            return (f"kimg {kimg:.1f}/{self.target / 1000:g} ({pct}), "
                    f"{clock_text(self.elapsed(now))} in, {eta}")
        return (f"kimg {kimg:.1f}, {clock_text(self.elapsed(now))} of "
                f"{clock_text(self.minutes * 60)} ({pct}), {eta}")


# What the tick line shows besides the position and the speed, in this order, when the tick's
# statistics hold it (families and options differ: an absent one is left out).
SHOWN = (("loss_g", "loss G", "{:.3f}"), ("loss_d", "D", "{:.3f}"),
         ("d_real", "D(real)", "{:+.2f}"), ("d_fake", "D(fake)", "{:+.2f}"),
         ("r1", "r1", "{:.3g}"), ("gp", "gp", "{:.3g}"), ("pl", "pl", "{:.3g}"),
         ("d_rec", "rec", "{:.3g}"), ("aug_p", "aug p", "{:.3f}"),
         ("diversity", "diversity", "{:.2f}"))


def tick_line(entry: dict, tick: int, clock: RunClock) -> str:
    """The console's line for one tick of stats.jsonl (the same numbers)."""
    parts = [f"tick {tick}", clock.position(round(entry["kimg"] * 1000)),
             f"{entry['sec_per_kimg']:.3g} s/kimg", f"{entry['img_per_s']:.0f} img/s"]
    stats = []
    for key, name, fmt in SHOWN:
        value = entry.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            stats.append(f"{name} {fmt.format(value)}")
    if entry.get("instance_noise"):
        stats.append(f"noise {entry['instance_noise']:.3f}")
    flags = entry.get("flags") or []
    stats.append("flags " + (",".join(flags) if flags else "-"))
    return "  ".join(parts) + "  " + " ".join(stats)


class Cadence:
    """When something is next due by wall time: first `every` seconds after the start, then
    every max(`every`, `growth` x the time elapsed at the last one), so a long run is not
    flooded (every=60, growth=0.5: at 1, 2, 3, 4.5, 6.75 ... minutes). every=0: never (with
    `always=True`: every time it is asked)."""

    def __init__(self, every: float, growth: float, start: float, always: bool = False):
        self.every, self.growth, self.start = every, growth, start
        self.always = always
        self.last = start

    def due(self, now: float) -> bool:
        if self.every <= 0:
            return self.always
        gap = max(self.every, self.growth * (self.last - self.start))
        return now - self.last >= gap

    def done(self, now: float) -> None:
        """It happened now (a due one, or one that came for another reason)."""
        self.last = now
