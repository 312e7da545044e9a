"""ganvas: from a folder of pictures to a trained GAN and a latent space to play in.

    import ganvas
    run = ganvas.train("demo:emoji", minutes=5)
    images = ganvas.load(run).generate(range(16))     # uint8 (16, 64, 64, 3)
"""

from .api import Model, demo, load, resume, train
from .errors import ConfigError, GanvasError

__version__ = "0.1.0"


def prepare(*args, **kwargs):
    """Folder of images -> dataset archive (see ganvas.data.prepare.prepare)."""
    from .data.prepare import prepare as _prepare
    return _prepare(*args, **kwargs)


__all__ = ["ConfigError", "GanvasError", "Model", "demo", "load", "prepare", "resume", "train"]
