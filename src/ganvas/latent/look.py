"""How a picture is made from its latent: the class, the truncation, the noise mode and, for
models with an input transform (StyleGAN3), a translation and rotation of the picture.

They travel together through every verb that makes pictures (generate, walks, sweeps,
style mixing, the page), so they travel as one frozen value: a Look. Its truncation is checked
when it is made; the class and the noise mode depend on the model, so `check(sampler)` checks
them against one (the Sampler's own checks, with their messages).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import GanvasError

MAX_TRUNCATION = 10.0        # |psi|: beyond it the pictures are only saturated noise
MAX_TRANSLATE = 100.0        # picture sides: far beyond it is only made-up content


def check_truncation(truncation) -> None:
    """A GanvasError unless psi is a finite number with |psi| <= MAX_TRUNCATION (a tensor
    psi, what export and training pass, is theirs to check)."""
    if isinstance(truncation, bool) or not isinstance(truncation, (int, float)):
        if hasattr(truncation, "shape"):
            return
        raise GanvasError(f"truncation must be a number, not {truncation!r}")
    if not math.isfinite(truncation) or abs(truncation) > MAX_TRUNCATION:
        raise GanvasError(f"truncation must be a finite number from -{MAX_TRUNCATION:g} to "
                          f"{MAX_TRUNCATION:g}, not {truncation!r}")


@dataclass(frozen=True)
class Look:
    """label: class name or index of a conditional model (None: each seed's class is
    seed % num_classes); truncation: psi (1 = none, 0 = the average picture; where the family
    applies it); noise_mode: const, random or none for families with noise inputs (None: the
    family's default)."""
    label: int | str | None = None
    truncation: float = 1.0
    noise_mode: str | None = None
    translate: tuple[float, float] = (0.0, 0.0)   # x right, y down, in picture short sides
    rotate: float = 0.0                           # degrees, counter-clockwise

    def __post_init__(self):
        check_truncation(self.truncation)
        try:
            x, y = (float(v) for v in self.translate)
            angle = float(self.rotate)
        except (TypeError, ValueError):
            raise GanvasError(f"translate must be two numbers (x, y) and rotate one, not "
                              f"{self.translate!r} and {self.rotate!r}") from None
        if not all(math.isfinite(v) for v in (x, y, angle)) or max(abs(x), abs(y)) > \
                MAX_TRANSLATE or abs(angle) > 36000:
            raise GanvasError(f"translate must be finite and within +-{MAX_TRANSLATE:g} picture "
                              f"sides, rotate finite and within +-36000 degrees")
        object.__setattr__(self, "translate", (x, y))
        object.__setattr__(self, "rotate", angle)

    @property
    def moved(self) -> bool:
        """Whether the look translates or rotates the picture."""
        return self.translate != (0.0, 0.0) or self.rotate != 0.0

    def check(self, sampler) -> Look:
        """This look, after a clear GanvasError for a class or noise mode `sampler`'s model
        does not have."""
        if self.label is not None:
            sampler.class_index(self.label)
        sampler.noise_mode(self.noise_mode)
        if self.moved:
            sampler.need("input_transform", "--translate / --rotate")
        return self
