"""Verbs that make datasets and models: prepare, train, demo."""

from __future__ import annotations

from ..errors import GanvasError
from .measure import add_feature_weights


def add_prepare(sub) -> None:
    p = sub.add_parser("prepare", help="turn a folder of images into a dataset archive",
                       description="Scan SRC for images, clean them, write one archive OUT.")
    p.add_argument("src", help="folder of images (searched recursively)")
    p.add_argument("out", help="archive file to write, e.g. frogs.zip")
    p.add_argument("--resolution", type=int, default=64, help="power of two (default 64)")
    p.add_argument("--channels", type=int, default=3, choices=(1, 3, 4))
    p.add_argument("--crop", default="center", choices=("center", "pad"))
    p.add_argument("--labels", default="none", choices=("folders", "none"),
                   help="folders: class = first-level sub-folder")
    p.set_defaults(run=run_prepare)


def run_prepare(a) -> None:
    from ..data.prepare import prepare
    summary = prepare(a.src, a.out, resolution=a.resolution, channels=a.channels,
                      crop=a.crop, labels=a.labels)
    print(summary)


def add_train(sub) -> None:
    from ..config import AUGMENT_MODES, D_NORMS, PRECISIONS, PRESETS
    from ..losses import LOSSES
    p = sub.add_parser("train", help="train a GAN on a dataset (or resume a run)",
                       description="Train on DATA (archive, image folder or demo:emoji), or "
                                   "continue a run with --resume RUN_DIR.")
    p.add_argument("data", nargs="?", help="dataset archive, image folder or demo:NAME")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its last snapshot")
    p.add_argument("--out", default="runs", help="folder for numbered run directories")
    p.add_argument("--model", help=f"preset (default dcgan, or the --init-from model's): "
                                   f"{', '.join(PRESETS.names())}")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--kimg", type=float, help="train until this many thousand images")
    length.add_argument("--minutes", type=float, help="train for this many minutes")
    o = p.add_argument_group("options (default: the preset's)")
    o.add_argument("--resolution", type=int, help="model resolution (default: the dataset's)")
    o.add_argument("--batch", type=int)
    o.add_argument("--seed", type=int)
    o.add_argument("--snap-kimg", type=float, help="snapshot + grid every N kimg")
    o.add_argument("--mirror", action="store_true", default=None, help="random x-flips")
    o.add_argument("--loss", help=f"{', '.join(LOSSES.names())}")
    o.add_argument("--n-critic", type=int, help="D steps per G step")
    o.add_argument("--gp-lambda", type=float, help="gradient penalty weight (wgan-gp)")
    o.add_argument("--r1-gamma", type=float, help="R1 penalty on reals (0 = off)")
    o.add_argument("--spectral-norm", action="store_true", default=None,
                   help="spectral normalisation in D")
    o.add_argument("--d-norm", choices=D_NORMS, help="normalisation in D")
    o.add_argument("--lr-g", type=float)
    o.add_argument("--lr-d", type=float)
    o.add_argument("--label-smoothing", type=float, help="one-sided, e.g. 0.1")
    o.add_argument("--label-noise", type=float, help="fraction of D's labels flipped, e.g. 0.05")
    o.add_argument("--instance-noise", type=float, help="start std, annealed to 0")
    o.add_argument("--gate-d", type=float, help="skip D's update while its loss is under this")
    o.add_argument("--gate-g", type=float, help="skip G's update while its loss is under this")
    o.add_argument("--diffaug", metavar="POLICY",
                   help="DiffAugment on reals and fakes: color,translation,cutout")
    o.add_argument("--aug", choices=AUGMENT_MODES,
                   help="augmentation of what D sees: ada (adaptive p), fixed (--p), diffaug")
    o.add_argument("--p", type=float, help="augmentation probability (ada: starting value)")
    o.add_argument("--target", type=float, help="ada: target r_t = E[sign(D(real))] (0.6)")
    o.add_argument("--augpipe", help="ada pipeline: bgc (default), bgcfnc, b, g, c, f, n, ...")
    o.add_argument("--r1-interval", type=int, help="lazy R1: every N D steps (StyleGAN2: 16)")
    o.add_argument("--pl-weight", type=float, help="path length regularisation (StyleGAN2)")
    o.add_argument("--style-mixing", type=float, help="style-mixing probability (StyleGAN2)")
    o.add_argument("--conditional", action="store_true", default=None,
                   help="condition any preset on the dataset's class labels")
    o.add_argument("--classic-aug", action="store_true", default=None,
                   help="crop, rotation, shear, brightness, contrast of the reals (tiny sets)")
    o.add_argument("--init-from", metavar="MODEL", help="fine-tune from this run or snapshot")
    o.add_argument("--freeze-d", type=int, help="with --init-from: keep D's first N blocks")
    o.add_argument("--precision", choices=PRECISIONS, help="fp32 (default) or bf16 autocast")
    o.add_argument("--device", help="auto (default), cpu, cuda, cuda:N, mps")
    o.add_argument("--metrics", help="measure G_ema at snapshots into metrics.jsonl: "
                   "swd, fid, kid, is, pr (comma-separated)")
    o.add_argument("--metrics-every", type=float, metavar="KIMG",
                   help="measure every N kimg (default: at every snapshot)")
    o.add_argument("--metrics-num", type=int, help="images per measurement (default 1000)")
    o.add_argument("--best-metric", help="keep checkpoints/best by this value (default: the "
                   "first metric's, e.g. fid; precision/recall/is: higher is better)")
    o.add_argument("--extractor", help="features for fid/kid/is/pr instead of the standard "
                   "ones (e.g. random-conv, offline)")
    add_feature_weights(o)
    p.set_defaults(run=run_train, options=[a.dest for a in o._group_actions])


def run_train(a) -> None:
    from ..api import resume, train
    options = {f: getattr(a, f) for f in a.options if getattr(a, f) is not None}
    if a.resume:
        if a.data or options:
            raise GanvasError("--resume takes only --kimg or --minutes; "
                              "the rest comes from the run")
        run = resume(a.resume, kimg=a.kimg, minutes=a.minutes)
    else:
        if not a.data:
            raise GanvasError("give a dataset (archive, image folder or demo:emoji) "
                              "or --resume RUN_DIR")
        for f in ("kimg", "minutes"):
            if getattr(a, f) is not None:
                options[f] = getattr(a, f)
        run = train(a.data, out=a.out, model=a.model, **options)
    print(run)


def add_demo(sub) -> None:
    p = sub.add_parser("demo", help="train on the bundled emoji for a few minutes, show results")
    p.add_argument("--minutes", type=float, default=5.0, help="training time (default 5)")
    p.add_argument("--out", default="ganvas-demo", help="folder for the run, grid and GIF")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=run_demo)


def run_demo(a) -> None:
    from ..api import demo
    if a.minutes <= 0:
        raise GanvasError("--minutes must be positive")
    paths = demo(out=a.out, minutes=a.minutes, seed=a.seed)
    print(f"run:  {paths['run']}\ngrid: {paths['grid']}\nwalk: {paths['walk']}")
