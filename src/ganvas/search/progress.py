"""`ganvas tune`'s console: one progress bar over the trials (the current trial's kimg its
postfix, the ETA from the trials finished so far) with the study's lines printed above it.
The trials' runs themselves are quiet (their log.txt holds what `ganvas train` would say)."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


def clock(seconds: float) -> str:
    """'42 s', '3:05', '1:02:03'."""
    s = round(seconds)
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class Console:
    """Lines (`say`) and, while trials run, a bar over them: 'trials 1/3' with the elapsed
    time, the remaining time once a trial has finished (tqdm's, from the trials' mean time:
    none before, rather than a guess), and the running trial's images seen against its kimg
    budget (or its minutes)."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.bar: tqdm | None = None
        self.shown = 0.0
        # A log file (no terminal) gets a line every 30 s instead of ten redraws a second.
        self.every = 0.5 if sys.stderr.isatty() else 30.0

    def say(self, text: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(text)          # above the bar
        else:
            print(text, flush=True)

    def start(self, total: int, done: int) -> None:
        if not self.enabled:
            return
        self.bar = tqdm(total=total, initial=done, unit="trial", dynamic_ncols=True,
                        mininterval=self.every, file=sys.stderr,
                        bar_format="trials {n_fmt}/{total_fmt} |{bar}| "
                                   "[{elapsed}<{remaining}{postfix}]")

    def trial(self, number: int, kimg: float | None, minutes: float | None):
        """The callback a trial's run calls with its images seen after each step."""
        started = time.monotonic()

        def images(seen: int) -> None:
            if self.bar is None:
                return
            now = time.monotonic()
            if now - self.shown < self.every:
                return
            self.shown = now
            if kimg is not None:
                where = f"{seen / 1000:.2f}/{kimg:g} kimg"
            else:
                where = f"{seen / 1000:.2f} kimg, {clock(now - started)} of {minutes:g} min"
            self.bar.set_postfix_str(f"trial {number}: {where}", refresh=False)
            self.bar.refresh()

        return images

    def finished_trial(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str("", refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
