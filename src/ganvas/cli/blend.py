"""The blend verb: layer swapping between two models of one architecture (ganvas.blend)."""

from __future__ import annotations


from ..errors import GanvasError
from .options import MODEL_HELP


def add_blend(sub) -> None:
    p = sub.add_parser("blend", help="swap layers between two models (coarse from one, fine "
                                     "from the other)",
                       description="Write an exported model whose generator takes the layers "
                                   "at resolutions up to --swap-at (mapping network, constant "
                                   "or first layer, those blocks) from BASE and the rest from "
                                   "FINE (Pinkney & Adler 2020): BASE's layout, FINE's detail "
                                   "and colour. BASE and FINE must share one architecture, "
                                   "e.g. a model and its copy fine-tuned with --init-from.")
    p.add_argument("base", help=MODEL_HELP + ": the coarse layers")
    p.add_argument("fine", help="the same architecture: the layers above --swap-at")
    p.add_argument("--swap-at", type=int, required=True, metavar="RES",
                   help="last resolution (px) taken from BASE, e.g. 16; 0 = all from FINE")
    p.add_argument("--crossfade", type=int, default=0, metavar="N",
                   help="interpolate the parameters over N blocks around the cut, linearly "
                        "from BASE to FINE (default 0: a hard cut)")
    p.add_argument("--out", required=True, help="new or empty folder for the blended model")
    p.set_defaults(run=run_blend)


def run_blend(a) -> None:
    from ..api import load
    from ..outputs import check_new_folder
    check_new_folder(a.out)                    # before loading anything
    try:
        base = load(a.base, device="cpu")
    except GanvasError as e:
        raise GanvasError(f"BASE: {e}") from None
    print(base.blend(a.fine, a.out, swap_at=a.swap_at, crossfade=a.crossfade))
