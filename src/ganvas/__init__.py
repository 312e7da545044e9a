"""ganvas: from a folder of pictures to a trained GAN and a latent space to play in.

    import ganvas
    run = ganvas.train("demo:emoji", minutes=5)
    images = ganvas.load(run).generate(range(16))     # uint8 (16, 64, 64, 3)
"""

from .api import (Model, demo, evaluate, import_pickle, load, memorization, report, resume,
                  samples, train)
from .display import Animation, Picture
from .data.prepare import prepare
from .errors import ConfigError, GanvasError
from .imaging import make_grid
from .latent.look import Look
from .latent.sampling import parse_seeds
from .limits import MAX_RENDER_PIXELS, MAX_SEED
from .search import show as show_study
from .search import tune

__version__ = "0.1.0"

__all__ = ["MAX_RENDER_PIXELS", "MAX_SEED", "Animation", "ConfigError", "GanvasError", "Look",
           "Model", "Picture", "demo", "evaluate", "import_pickle", "load", "make_grid",
           "memorization", "parse_seeds", "prepare", "report", "resume", "samples",
           "show_study", "train", "tune"]
