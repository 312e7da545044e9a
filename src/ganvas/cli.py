"""The `ganvas` command: parses arguments and calls the Python API, nothing more.

A user's mistake (GanvasError, bad arguments) prints one line and exits with 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import GanvasError

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit code 2."""

    def error(self, message: str) -> None:  # noqa: D401 (argparse API)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


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
    from .data.prepare import prepare
    summary = prepare(a.src, a.out, resolution=a.resolution, channels=a.channels,
                      crop=a.crop, labels=a.labels)
    print(summary)


def add_train(sub) -> None:
    from .config import AUGMENT_MODES, D_NORMS, PRECISIONS, PRESETS
    from .losses import LOSSES
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
    from .api import resume, train
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


def add_generate(sub) -> None:
    p = sub.add_parser("generate", help="make pictures from seeds",
                       description="MODEL is a run directory, a snapshot or an exported model.")
    p.add_argument("model")
    p.add_argument("--seeds", default="0-15", help="e.g. 0-63 or 1,5,9 (default 0-15)")
    p.add_argument("--out", help="folder for one PNG per seed (seed0003.png, ...)")
    p.add_argument("--grid", help="also (or only) write all pictures as one grid PNG")
    p.add_argument("--scale", type=int, default=1, help="enlarge pixels N times (crisp)")
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                   help="pull latents towards the average (1 = off, 0 = average; may be < 0)")
    p.add_argument("--noise-mode", choices=("const", "random", "none"),
                   help="StyleGAN2 noise inputs (default const)")
    p.add_argument("--class", dest="label", metavar="NAME|INDEX",
                   help="class of a conditional model (default: seed %% number of classes)")
    p.set_defaults(run=run_generate)


def run_generate(a) -> None:
    from .api import load
    from .imaging import make_grid, save_png
    from .latent.sampling import parse_seeds
    if not a.out and not a.grid:
        raise GanvasError("say where to write: --out DIR and/or --grid FILE.png")
    if not 1 <= a.scale <= 16:
        raise GanvasError("--scale must be from 1 to 16")
    seeds = parse_seeds(a.seeds)
    model = load(a.model)
    images = model.generate(seeds, label=a.label, truncation=a.truncation,
                            noise_mode=a.noise_mode)
    if a.out:
        for seed, img in zip(seeds, images):
            save_png(img, Path(a.out) / f"seed{seed:04d}.png", scale=a.scale)
        print(f"{len(seeds)} images in {a.out}")
    if a.grid:
        print(save_png(make_grid(images), a.grid, scale=a.scale))


def add_eval(sub) -> None:
    p = sub.add_parser("eval", help="measure a model against its training images",
                       description="Generate --num images and compare them with as many "
                                   "training images; write a metrics JSON, print a table.")
    p.add_argument("model", help="run directory, snapshot or exported model")
    p.add_argument("--metrics", help="comma-separated: swd (no weights needed), fid, kid, "
                   "is (Inception-v3), pr (VGG-16); default swd, none with --memorization")
    p.add_argument("--num", type=int, default=1000, help="images per side (default 1000)")
    p.add_argument("--extractor", help="features for all of fid/kid/is/pr instead of the "
                   "standard ones, e.g. random-conv (offline; ganvas-only scale)")
    add_feature_weights(p)
    p.add_argument("--out", default="metrics.json", help="JSON file to write")
    m = p.add_argument_group("memorization: are samples copies of training images?")
    m.add_argument("--memorization", action="store_true",
                   help="nearest training images of --num samples, in feature and pixel space")
    m.add_argument("--memorization-dir", default="memorization",
                   help="folder for the grids and memorization.json (default memorization)")
    m.add_argument("--neighbours", type=int, default=3, help="neighbours per sample (3)")
    m.add_argument("--train-limit", type=int, help="compare with a fixed random subset of "
                   "this many training images (default: all)")
    p.set_defaults(run=run_eval)


def add_feature_weights(p) -> None:
    p.add_argument("--feature-weights", metavar="[NAME=]PATH",
                   help="local weight files of the feature networks, e.g. "
                        "inception-v3=pt_inception.pth,vgg16=vgg16.pth (offline use)")


def run_eval(a) -> None:
    from .api import load
    from .metrics import evaluate as ev
    weights = ev.parse_feature_weights(a.feature_weights)
    model = load(a.model)
    if a.memorization:
        run_memorization(a, model, weights)
    if a.metrics or not a.memorization:
        result = ev.evaluate(model, ev.parse_metrics(a.metrics or "swd"), a.num, a.extractor,
                             weights)
        print(ev.table(result))
        print(ev.write_json(result, a.out))


def run_memorization(a, model, weights: dict) -> None:
    from .metrics.evaluate import build_extractor
    from .metrics.memorization import memorization, table
    extractor = build_extractor(a.extractor or "inception-v3", weights)
    result = memorization(model, a.num, extractor, a.memorization_dir,
                          neighbours=a.neighbours, train_limit=a.train_limit)
    print(table(result))


def add_demo(sub) -> None:
    p = sub.add_parser("demo", help="train on the bundled emoji for a few minutes, show results")
    p.add_argument("--minutes", type=float, default=5.0, help="training time (default 5)")
    p.add_argument("--out", default="ganvas-demo", help="folder for the run, grid and GIF")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=run_demo)


def run_demo(a) -> None:
    from .api import demo
    if a.minutes <= 0:
        raise GanvasError("--minutes must be positive")
    paths = demo(out=a.out, minutes=a.minutes, seed=a.seed)
    print(f"run:  {paths['run']}\ngrid: {paths['grid']}\nwalk: {paths['walk']}")


def add_report(sub) -> None:
    p = sub.add_parser("report", help="write a run's report.html (curves, samples, progress)",
                       description="Write one self-contained HTML page about RUN (losses, "
                                   "metrics, augmentation, reals beside fakes, progress GIF) "
                                   "and its pictures in a folder beside it.")
    # dest run_dir: `run` is the verb's function, set below.
    p.add_argument("run_dir", metavar="RUN", help="run directory, e.g. runs/00000-dcgan-emoji")
    p.add_argument("--out", help="HTML file to write (default RUN/report.html)")
    p.set_defaults(run=run_report)


def run_report(a) -> None:
    from .api import report
    print(report(a.run_dir, out=a.out))


def add_interpolate(sub) -> None:
    p = sub.add_parser("interpolate", help="a walk through latent space as MP4, GIF or PNG grid",
                       description="Walk from keyframe to keyframe (seeds, a latents .npz "
                                   "file, or one seed across classes) and write --out: .mp4 "
                                   "(H.264), .gif, or .png (a grid, one row per step).")
    p.add_argument("model", help="run directory, snapshot or exported model")
    p.add_argument("--seeds", help="keyframe seeds, e.g. 3,7,11 or 0-5")
    p.add_argument("--latents", metavar="FILE.npz",
                   help='keyframes from a file: "z" (K, z_dim) [+ "labels"], or "w" '
                        '(K, num_ws, w_dim) or (K, w_dim)')
    p.add_argument("--class-walk", metavar="A,B,C",
                   help="classes of a conditional model, walked with one latent (--seeds S)")
    p.add_argument("--frames-per-step", type=int, default=24, metavar="N",
                   help="frames from one keyframe to the next (default 24)")
    p.add_argument("--method", choices=("slerp", "lerp"), default="slerp")
    p.add_argument("--easing", choices=("linear", "smooth"), default="linear",
                   help="smooth: ease in and out of every keyframe")
    p.add_argument("--loop", action="store_true", help="return to the first keyframe, seamlessly")
    p.add_argument("--fps", type=float, default=24.0, help="frames per second (default 24)")
    p.add_argument("--out", required=True, help="walk.mp4, walk.gif or grid.png")
    p.add_argument("--space", choices=("z", "w"),
                   help="latent space: z, or w (StyleGAN2, after the mapping network)")
    p.add_argument("--class", dest="label", metavar="NAME|INDEX",
                   help="class of a conditional model (default: seed %% number of classes)")
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                   help="pull latents towards the average (1 = off, 0 = average)")
    p.add_argument("--noise-mode", choices=("const", "random", "none"),
                   help="StyleGAN2 noise inputs (default const)")
    p.add_argument("--scale", type=int, default=1, help="enlarge pixels N times (crisp)")
    p.set_defaults(run=run_interpolate)


def run_interpolate(a) -> None:
    from .api import load
    from .latent.sampling import parse_seeds
    from .latent.video import check_scale, output_format
    output_format(a.out)
    check_scale(a.scale)
    seeds = parse_seeds(a.seeds) if a.seeds is not None else None
    classes = [c.strip() for c in a.class_walk.split(",")] if a.class_walk else None
    model = load(a.model)
    print(model.interpolate(a.out, seeds, latents=a.latents, class_walk=classes,
                            label=a.label, space=a.space, truncation=a.truncation, fps=a.fps,
                            scale=a.scale, frames_per_step=a.frames_per_step, loop=a.loop,
                            method=a.method, easing=a.easing, noise_mode=a.noise_mode))


def add_explore(sub) -> None:
    p = sub.add_parser("explore", help="sweep single latent dimensions of one seed (PNG grid)",
                       description="One row per dimension: the seed's latent with that "
                                   "dimension moved across --range in --steps steps (z; w for "
                                   "StyleGAN2, in units of w's standard deviation).")
    p.add_argument("model", help="run directory, snapshot or exported model")
    p.add_argument("--seed", default="0", help="the seed to start from (default 0)")
    p.add_argument("--dims", required=True, help="dimensions, one row each: e.g. 0,10,20")
    p.add_argument("--range", nargs=2, type=float, default=(-3.0, 3.0), metavar=("LO", "HI"),
                   help="shift from LO to HI (default -3 3)")
    p.add_argument("--steps", type=int, default=7, help="columns (default 7)")
    p.add_argument("--out", required=True, help="grid PNG to write")
    p.add_argument("--space", choices=("z", "w"),
                   help="latent space: z, or w (StyleGAN2; its default)")
    p.add_argument("--class", dest="label", metavar="NAME|INDEX",
                   help="class of a conditional model (default: seed %% number of classes)")
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                   help="pull latents towards the average (1 = off, 0 = average)")
    p.add_argument("--noise-mode", choices=("const", "random", "none"),
                   help="StyleGAN2 noise inputs (default const)")
    p.add_argument("--scale", type=int, default=1, help="enlarge pixels N times (crisp)")
    p.set_defaults(run=run_explore)


def run_explore(a) -> None:
    from .api import load
    from .imaging import make_grid, save_png
    from .latent.explore import parse_dims
    from .latent.sampling import parse_seeds
    from .latent.video import check_png, check_scale
    check_png(a.out)
    check_scale(a.scale)
    seeds, dims = parse_seeds(a.seed), parse_dims(a.dims)
    if len(seeds) != 1:
        raise GanvasError(f"--seed takes one seed, not {a.seed!r}")
    cells = load(a.model).explore(seeds[0], dims, a.range[0], a.range[1], a.steps,
                                  space=a.space, label=a.label, truncation=a.truncation,
                                  noise_mode=a.noise_mode)
    grid = make_grid(cells.reshape(-1, *cells.shape[2:]), cols=cells.shape[1])
    print(save_png(grid, a.out, scale=a.scale))


def add_style_mix(sub) -> None:
    p = sub.add_parser("style-mix", help="StyleGAN2 style-mixing grid (PNG)",
                       description="Top row: the --cols seeds; left column: the --rows seeds; "
                                   "each cell: the row seed with the --styles layers taken "
                                   "from the column seed.")
    p.add_argument("model", help="run directory, snapshot or exported model (StyleGAN2)")
    p.add_argument("--rows", required=True, help="row seeds, e.g. 1,2,3")
    p.add_argument("--cols", required=True, help="column seeds, e.g. 4,5,6")
    p.add_argument("--styles", default="coarse",
                   help="layers from the column seed: coarse (4-8 px), middle (16-32 px), "
                        "fine (64 px and up) or w indices like 0-3 (default coarse)")
    p.add_argument("--out", required=True, help="grid PNG to write")
    p.add_argument("--class", dest="label", metavar="NAME|INDEX",
                   help="class of a conditional model (default: seed %% number of classes)")
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                   help="pull latents towards the average (1 = off, 0 = average)")
    p.add_argument("--noise-mode", choices=("const", "random", "none"),
                   help="StyleGAN2 noise inputs (default const)")
    p.add_argument("--scale", type=int, default=1, help="enlarge pixels N times (crisp)")
    p.set_defaults(run=run_style_mix)


def run_style_mix(a) -> None:
    from .api import load
    from .imaging import make_grid, save_png
    from .latent.sampling import parse_seeds
    from .latent.video import check_png, check_scale
    check_png(a.out)
    check_scale(a.scale)
    rows, cols = parse_seeds(a.rows), parse_seeds(a.cols)
    cells = load(a.model).style_mix(rows, cols, a.styles, label=a.label,
                                    truncation=a.truncation, noise_mode=a.noise_mode)
    grid = make_grid(cells.reshape(-1, *cells.shape[2:]), cols=cells.shape[1])
    print(save_png(grid, a.out, scale=a.scale))


def add_project(sub) -> None:
    p = sub.add_parser("project", help="find the latents that reproduce images",
                       description="Optimise one latent per TARGET image (w for StyleGAN2, "
                                   "z for the others) and write --out: latent.npz (keyframes "
                                   "for interpolate --latents), reconstruction.png (target "
                                   "beside reconstruction), projection.json and, with "
                                   "--save-video, the optimisation.")
    p.add_argument("model", help="run directory, snapshot or exported model")
    p.add_argument("targets", nargs="+", metavar="TARGET", help="image file(s) to reproduce")
    p.add_argument("--steps", type=int, default=1000, help="optimisation steps (default 1000)")
    p.add_argument("--out", default="projection", help="folder to write (default projection)")
    p.add_argument("--seed", type=int, default=0, help="randomness of starts and noise (0)")
    p.add_argument("--class", dest="label", metavar="NAME|INDEX",
                   help="class of a conditional model (default: the closest start's)")
    p.add_argument("--w-plus", action="store_true",
                   help="StyleGAN2: one w per layer (closer, less editable); default one w")
    p.add_argument("--feature-weights", metavar="PATH",
                   help="torchvision VGG-16 weights for the perceptual distance (default: "
                        "cache or download; offline without them: a pixel-pyramid distance)")
    p.add_argument("--save-video", action="store_true",
                   help="also write the optimisation, target beside the current "
                        "reconstruction, one frame per step: projection.mp4")
    p.add_argument("--video-format", choices=("mp4", "gif"), default="mp4",
                   help="with --save-video: mp4 (H.264, default) or gif")
    p.add_argument("--fps", type=float, default=30.0, help="video frames per second (30)")
    p.add_argument("--scale", type=int, default=1, help="enlarge pixels N times (crisp)")
    p.set_defaults(run=run_project)


def run_project(a) -> None:
    from .api import load
    weights = a.feature_weights
    if weights and weights.startswith("vgg16="):
        weights = weights.split("=", 1)[1]
    video = f"projection.{a.video_format}" if a.save_video else None
    result = load(a.model).project(a.targets, out=a.out, steps=a.steps, seed=a.seed,
                                   label=a.label, w_plus=a.w_plus, feature_weights=weights,
                                   video=video, fps=a.fps, scale=a.scale)
    name = result["distance"]["name"]
    for row in result["targets"]:
        print(f"{row['target']}: {name} {row['start_distance']:.4f} -> {row['distance']:.4f}, "
              f"pixel MSE {row['start_mse']:.4f} -> {row['mse']:.4f} ({row['psnr_db']} dB)")
    print(Path(a.out) / "projection.json")


def add_export(sub) -> None:
    p = sub.add_parser("export", help="write the generator as a model folder or ONNX",
                       description="safetensors: OUT becomes a standalone model folder "
                                   "(model.json + G_ema.safetensors). onnx: OUT/generator.onnx "
                                   "taking z (N, z_dim) [+ labels (N,) int64] [+ truncation "
                                   "(1,) for StyleGAN2], giving float32 NCHW images in "
                                   "[-1, 1], checked against PyTorch with onnxruntime.")
    p.add_argument("model", help="run directory, snapshot or exported model")
    p.add_argument("--format", default="safetensors", help="safetensors (default) or onnx")
    p.add_argument("--out", required=True, help="folder to write")
    p.add_argument("--uint8", action="store_true",
                   help="onnx: output uint8 (N, H, W, C) pixels instead of float NCHW")
    p.set_defaults(run=run_export)


def run_export(a) -> None:
    from .api import load
    from .export import FORMATS
    if a.format not in FORMATS:
        raise GanvasError(f"unknown export format {a.format!r}; choose from "
                          f"{', '.join(FORMATS)}")
    print(load(a.model).export(a.out, a.format, uint8=a.uint8))


def add_app(sub) -> None:
    p = sub.add_parser("app", help="a web page to play with a model (Streamlit)",
                       description="Serve a page with a gallery, latent sliders, walks, style "
                                   "mixing and the model card of MODEL; open the printed "
                                   "address in a browser. Local only unless --host is given.")
    p.add_argument("model", help="run directory, snapshot or exported model")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.set_defaults(run=run_app)


def run_app(a) -> None:
    from .app.launch import launch
    code = launch(a.model, host=a.host, port=a.port)
    if code:
        raise SystemExit(code)


def build_parser() -> Parser:
    from . import __version__
    parser = Parser(prog="ganvas", description="From a folder of pictures to a trained GAN.")
    parser.add_argument("--version", action="version", version=f"ganvas {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=Parser)
    sub.required = True
    for add in (add_prepare, add_train, add_generate, add_eval, add_demo, add_interpolate,
                add_explore, add_style_mix, add_report, add_project, add_export, add_app):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except GanvasError as e:
        print(f"ganvas {args.verb}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"ganvas {args.verb}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
