"""Bounds that every layer shares: the one definition of each, imported wherever it is checked."""

from __future__ import annotations

# Seeds are unsigned 32-bit everywhere (the studio, the page, training's seed); the trainer
# seeds its RNG streams with seed * 8 + i, which must fit torch.manual_seed's 64 bits.
MAX_SEED = 2**32 - 1
