"""Bounds that every layer shares: the one definition of each, and the one check of each that
more than one layer makes."""

from __future__ import annotations

from .errors import GanvasError

# Seeds are unsigned 32-bit everywhere (the studio, the page, training's seed); the trainer
# seeds its RNG streams with seed * 8 + i, which must fit torch.manual_seed's 64 bits.
MAX_SEED = 2**32 - 1


def check_seed(seed, error: type[Exception] = GanvasError) -> int:
    """`seed` as an int; `error` (a GanvasError by default) unless it is an integer (not a
    bool) from 0 to MAX_SEED."""
    if isinstance(seed, bool) or not hasattr(seed, "__index__") or not 0 <= seed <= MAX_SEED:
        raise error(f"bad seed {seed!r}: need an integer from 0 to {MAX_SEED}")
    return int(seed)
