"""Bounds that every layer shares: the one definition of each, and the one check of each that
more than one layer makes."""

from __future__ import annotations

from .errors import GanvasError

# Seeds are unsigned 32-bit everywhere (the studio, the page, training's seed); the trainer
# seeds its RNG streams with seed * 8 + i, which must fit torch.manual_seed's 64 bits.
MAX_SEED = 2**32 - 1


def is_int_in(value, low: int, high: int) -> bool:
    """Whether `value` is an integer (not a bool) from `low` to `high`."""
    return not isinstance(value, bool) and hasattr(value, "__index__") and low <= value <= high


def check_seed(seed, error: type[Exception] = GanvasError) -> int:
    """`seed` as an int; `error` (a GanvasError by default) unless it is an integer (not a
    bool) from 0 to MAX_SEED."""
    if not is_int_in(seed, 0, MAX_SEED):
        raise error(f"bad seed {seed!r}: need an integer from 0 to {MAX_SEED}")
    return int(seed)


# Sample counts of the metrics (ganvas eval, metrics during training, tune). The generated
# count is independent of the reals: NVlabs' fid50k_full compares 50,000 fakes with the whole
# training set, and 50,000 is the most any paper generates, so it is the limit. Memory decides
# it too: every image's features are float64 rows, 50,000 x 2048 x 8 B = 0.82 GB for
# Inception (x ~3 while the covariance is formed, and the reals' on top), and the fakes'
# pixels are held for SWD: 50,000 x 256 x 256 x 3 B = 9.8 GB at 256 px. That fits a 24 GiB
# machine up to 256 px; 1,000,000 would need 16 GB of features alone.
MAX_GENERATED = 50_000
# The reals are all the training images up to this many (a fixed random subset above it):
# the same memory per image as the fakes.
MAX_REALS = 50_000


def check_generated(num, what: str = "--num", error: type[Exception] = GanvasError) -> int:
    """`num` generated images as an int; `error` naming the limit unless it is an integer
    from 2 to MAX_GENERATED."""
    if not is_int_in(num, 2, MAX_GENERATED):
        raise error(f"{what} {num!r}: the number of generated images must be at least 2 and at "
                    f"most {MAX_GENERATED:,} (the limit, ganvas.limits.MAX_GENERATED: 50k as "
                    f"fid50k; features and pixels must fit in memory)")
    return int(num)


# Pixels of one rendered picture set held in memory at once (frames x height x width, after
# enlargement): a click on the page, a PNG storyboard of the command line. 2^27 pixels are
# 384 MiB of RGB uint8, about 2,000 frames of 256 x 256.
MAX_RENDER_PIXELS = 1 << 27
