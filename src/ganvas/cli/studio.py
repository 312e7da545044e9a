"""Verbs of the latent studio: generate, interpolate, explore, style-mix, project, export,
and the web page (app)."""

from __future__ import annotations

from pathlib import Path

from ..errors import GanvasError
from .options import MODEL_HELP, add_device_option


def add_look_options(p) -> None:
    """--class, --truncation, --noise-mode and --scale: how pictures are made and shown."""
    p.add_argument("--class", dest="label", metavar="NAME|INDEX",
                   help="class of a conditional model (default: seed %% number of classes)")
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                   help="pull latents towards the average (1 = off, 0 = average; may be < 0)")
    p.add_argument("--noise-mode", choices=("const", "random", "none"),
                   help="noise inputs, for models that have them (StyleGAN2; default const)")
    p.add_argument("--scale", type=int, default=1, help="enlarge pixels N times (crisp)")
    p.add_argument("--translate", type=_pair, default=(0.0, 0.0), metavar="X,Y",
                   help="models with an input transform (StyleGAN3): move the picture by X "
                        "right and Y down, in picture short sides (0.25 = a quarter)")
    p.add_argument("--rotate", type=float, default=0.0, metavar="DEG",
                   help="models with an input transform (StyleGAN3): turn the picture by DEG "
                        "degrees counter-clockwise")


def _pair(text: str) -> tuple[float, float]:
    import argparse
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"need X,Y (two numbers), not {text!r}") from None
    return x, y


def add_generate(sub) -> None:
    p = sub.add_parser("generate", help="make pictures from seeds",
                       description="pictures by seed from MODEL")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("--seeds", default="0-15", help="e.g. 0-63 or 1,5,9 (default 0-15)")
    p.add_argument("--out", help="folder for one PNG per seed (seed0003.png, ...)")
    p.add_argument("--grid", help="also (or only) write all pictures as one grid PNG")
    add_look_options(p)
    add_device_option(p)
    p.set_defaults(run=run_generate)


def run_generate(a) -> None:
    from ..api import load
    from ..latent.sampling import parse_seeds
    seeds = parse_seeds(a.seeds)
    paths = load(a.model, a.device).save_images(seeds, folder=a.out, grid=a.grid,
                                                scale=a.scale, look=look_of(a))
    if a.out:
        print(f"{len(seeds)} images in {a.out}")
    if a.grid:
        print(paths[-1])


def add_interpolate(sub) -> None:
    p = sub.add_parser("interpolate",
                       help="a walk through latent space as MP4, GIF, PNG grid or PNG frames",
                       description="Walk from keyframe to keyframe (seeds, a latents .npz "
                                   "file, or one seed across classes) and write --out: .mp4 "
                                   "(H.264), .gif, .png (a grid, one row per step), or a "
                                   "folder/ of PNG frames. With "
                                   "--audio SONG, a music video: one frame per 1/fps s of the "
                                   "song, moving on its onsets and loudness, the whole song "
                                   "covering the keyframes, and the song in the MP4.")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("--seeds", help="keyframe seeds, e.g. 3,7,11 or 0-5")
    p.add_argument("--latents", metavar="FILE.npz",
                   help='keyframes from a file: "z" (K, z_dim) [+ "labels"], or "w" '
                        '(K, num_ws, w_dim) or (K, w_dim)')
    p.add_argument("--class-walk", metavar="A,B,C",
                   help="classes of a conditional model, walked with one latent (--seeds S)")
    p.add_argument("--frames-per-step", type=int, metavar="N",
                   help="frames from one keyframe to the next (default 24; not with --audio, "
                        "where the song's length sets the frames)")
    p.add_argument("--method", choices=("slerp", "lerp"), default="slerp")
    p.add_argument("--easing", choices=("linear", "smooth"), default="linear",
                   help="smooth: ease in and out of every keyframe")
    p.add_argument("--loop", action="store_true", help="return to the first keyframe, seamlessly")
    p.add_argument("--fps", type=float, default=24.0, help="frames per second (default 24)")
    p.add_argument("--out", required=True,
                   help="walk.mp4, walk.gif, grid.png, or frames/ (a new or empty folder: "
                        "one PNG per frame, frame00000.png ...)")
    p.add_argument("--space", choices=("z", "w"),
                   help="latent space: z, or w (models with one, e.g. StyleGAN2)")
    p.add_argument("--audio", metavar="SONG",
                   help="a music video (.mp4 only) of this WAV, FLAC, MP3 or OGG: the walk "
                        "speeds up on onsets and loud passages (librosa onset strength and "
                        "RMS) and the MP4 carries the song (needs pip install ganvas[audio])")
    p.add_argument("--audio-truncation", choices=("low", "mid", "high"), metavar="BAND",
                   help="with --audio: the energy of this band (low < 250 Hz, mid 250-2000 "
                        "Hz, high > 2000 Hz) pulls the picture toward the average latent, "
                        "psi x (1 - strength x energy)")
    p.add_argument("--audio-direction", metavar="DIRS.npz:INDEX[:BAND]",
                   help="with --audio: the band's energy (default low) moves the latent along "
                        "direction INDEX of a `ganvas directions` file, strength x energy "
                        "units of spread")
    p.add_argument("--audio-strength", type=float, metavar="S",
                   help="how strong the band effect is (truncation default 0.5, direction 2)")
    add_look_options(p)
    add_device_option(p)
    p.set_defaults(run=run_interpolate)


def run_interpolate(a) -> None:
    from ..api import load
    from ..latent.sampling import parse_seeds
    seeds = parse_seeds(a.seeds) if a.seeds is not None else None
    classes = [c.strip() for c in a.class_walk.split(",")] if a.class_walk else None
    react = {k: v for k, v in (("truncation", a.audio_truncation),
                               ("direction", a.audio_direction),
                               ("strength", a.audio_strength)) if v is not None}
    if a.audio is None and react:
        raise GanvasError(f"--audio-{next(iter(react))} needs --audio SONG")
    if a.audio is not None and a.frames_per_step is not None:
        raise GanvasError("--frames-per-step does not apply with --audio: the song's length "
                          "sets the frames (duration x --fps)")
    steps = {} if a.frames_per_step is None else {"frames_per_step": a.frames_per_step}
    model = load(a.model, a.device)
    print(model.interpolate(a.out, seeds, latents=a.latents, class_walk=classes,
                            space=a.space, look=look_of(a), fps=a.fps, scale=a.scale,
                            loop=a.loop, method=a.method, easing=a.easing, audio=a.audio,
                            audio_react=react or None, **steps))


def add_explore(sub) -> None:
    p = sub.add_parser("explore", help="sweep single latent dimensions of one seed (PNG grid)",
                       description="One row per dimension: the seed's latent with that "
                                   "dimension moved across --range in --steps steps (z; w for "
                                   "StyleGAN2, in units of w's standard deviation).")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("--seed", default="0", help="the seed to start from (default 0)")
    p.add_argument("--dims", help="dimensions, one row each: e.g. 0,10,20 (with --directions: "
                                  "which directions, default the first 10)")
    p.add_argument("--directions", metavar="DIRS_NPZ",
                   help="sweep along these directions (ganvas directions) instead of single "
                        "dimensions, in units of the latent's spread along each")
    p.add_argument("--range", nargs=2, type=float, default=(-3.0, 3.0), metavar=("LO", "HI"),
                   help="shift from LO to HI (default -3 3)")
    p.add_argument("--steps", type=int, default=7, help="columns (default 7)")
    p.add_argument("--out", required=True, help="grid PNG to write")
    p.add_argument("--save-latents", metavar="KEYS_NPZ",
                   help="also save the cells' latents, row by row, as keyframes for "
                        "interpolate --latents (a walk along the sweep)")
    p.add_argument("--space", choices=("z", "w"),
                   help="latent space: z, or w (models with one, e.g. StyleGAN2; then the default)")
    p.add_argument("--no-labels", dest="labels", action="store_false",
                   help="the bare grid (no row or column names)")
    add_look_options(p)
    add_device_option(p)
    p.set_defaults(run=run_explore)


def run_explore(a) -> None:
    from ..api import load
    from ..latent.explore import parse_dims
    from ..latent.sampling import parse_seeds
    seeds = parse_seeds(a.seed)
    if len(seeds) != 1:
        raise GanvasError(f"--seed takes one seed, not {a.seed!r}")
    if a.directions:
        if a.space:
            raise GanvasError("--directions sweep the space they were found in: drop --space")
        rows = parse_dims(a.dims) if a.dims else None
        load(a.model, a.device).explore_directions(
            seeds[0], a.directions, rows, a.range[0], a.range[1], a.steps, **grid_look(a),
            latents_out=a.save_latents, labels=a.labels)
    else:
        if not a.dims:
            raise GanvasError("give --dims (dimensions to sweep) or --directions DIRS_NPZ")
        load(a.model, a.device).explore(seeds[0], parse_dims(a.dims), a.range[0], a.range[1],
                                        a.steps, space=a.space, **grid_look(a),
                                        latents_out=a.save_latents, labels=a.labels)
    print(Path(a.out))


def look_of(a):
    """The ganvas.Look of the parsed --class, --truncation and --noise-mode."""
    from ..latent.look import Look
    return Look(a.label, a.truncation, a.noise_mode, a.translate, a.rotate)


def grid_look(a) -> dict:
    """The look and the --out/--scale of a verb that writes one grid PNG."""
    return {"look": look_of(a), "out": a.out, "scale": a.scale}


def add_directions(sub) -> None:
    p = sub.add_parser("directions", help="find meaningful latent directions (SeFa, PCA)",
                       description="Directions found without labels: sefa factorises the "
                                   "weights that first act on the latent (StyleGAN2: the "
                                   "style affines, of --layers; others: the first layer), pca "
                                   "takes the principal components of sampled w (StyleGAN2) "
                                   "or first-layer activations. Writes an .npz for "
                                   "`explore --directions`.")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("--method", default="sefa", help="sefa (default) or pca")
    p.add_argument("--num", type=int, default=10, help="directions to keep (default 10)")
    p.add_argument("--layers", help="StyleGAN2: the w indices the directions act on, e.g. "
                                    "0-3 (coarse); default all")
    p.add_argument("--out", required=True, help="the .npz to write, e.g. dirs.npz")
    add_device_option(p)
    p.set_defaults(run=run_directions)


def run_directions(a) -> None:
    from ..api import load
    from ..latent.explore import parse_dims
    if not str(a.out).endswith(".npz"):
        raise GanvasError(f"--out {a.out}: give a .npz file name")
    layers = parse_dims(a.layers) if a.layers else None
    found = load(a.model, a.device).directions(a.method, a.num, layers, out=a.out)
    what = "eigenvalue" if found.method == "sefa" else "variance"
    for i, value in enumerate(found.values):
        print(f"direction {i}: {what} {value:.4g}")
    print(Path(a.out))


def add_style_mix(sub) -> None:
    p = sub.add_parser("style-mix", help="style-mixing grid (PNG), StyleGAN2 and the like",
                       description="Top row: the --cols seeds; left column: the --rows seeds; "
                                   "each cell: the row seed with the --styles layers taken "
                                   "from the column seed.")
    p.add_argument("model", help=MODEL_HELP + " (a family with style mixing)")
    p.add_argument("--rows", required=True, help="row seeds, e.g. 1,2,3")
    p.add_argument("--cols", required=True, help="column seeds, e.g. 4,5,6")
    p.add_argument("--styles", default="coarse",
                   help="layers from the column seed: coarse (4-8 px), middle (16-32 px), "
                        "fine (64 px and up) or w indices like 0-3 (default coarse)")
    p.add_argument("--out", required=True, help="grid PNG to write")
    add_look_options(p)
    add_device_option(p)
    p.set_defaults(run=run_style_mix)


def run_style_mix(a) -> None:
    from ..api import load
    from ..latent.sampling import parse_seeds
    rows, cols = parse_seeds(a.rows), parse_seeds(a.cols)
    load(a.model, a.device).style_mix(rows, cols, a.styles, **grid_look(a))
    print(Path(a.out))


def add_project(sub) -> None:
    p = sub.add_parser("project", help="find the latents that reproduce images",
                       description="Optimise one latent per TARGET image (w for StyleGAN2, "
                                   "z for the others) and write --out: latent.npz (keyframes "
                                   "for interpolate --latents), reconstruction.png (target "
                                   "beside reconstruction), projection.json and, with "
                                   "--save-video, the optimisation.")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("targets", nargs="+", metavar="TARGET", help="image file(s) to reproduce")
    p.add_argument("--steps", type=int, default=1000, help="optimisation steps (default 1000)")
    p.add_argument("--out", default="projection", help="folder to write (default projection)")
    p.add_argument("--seed", type=int, default=0, help="randomness of starts and noise (0)")
    p.add_argument("--class", dest="label", metavar="NAME|INDEX",
                   help="class of a conditional model (default: the closest start's)")
    p.add_argument("--w-plus", action="store_true",
                   help="StyleGAN2: one w per layer (closer, less editable); default one w")
    p.add_argument("--feature-weights", metavar="[vgg16=]PATH",
                   help="torchvision VGG-16 weights for the perceptual distance (default: "
                        "cache or download; offline without them: a pixel-pyramid distance)")
    p.add_argument("--save-video", action="store_true",
                   help="also write the optimisation, target beside the current "
                        "reconstruction, one frame per step: projection.mp4")
    p.add_argument("--video-format", choices=("mp4", "gif"), default="mp4",
                   help="with --save-video: mp4 (H.264, default) or gif")
    p.add_argument("--fps", type=float, default=30.0, help="video frames per second (30)")
    p.add_argument("--scale", type=int, default=1, help="enlarge pixels N times (crisp)")
    add_device_option(p)
    p.set_defaults(run=run_project)


def run_project(a) -> None:
    from ..api import load
    video = f"projection.{a.video_format}" if a.save_video else None
    result = load(a.model, a.device).project(
        a.targets, out=a.out, steps=a.steps, seed=a.seed, label=a.label, w_plus=a.w_plus,
        feature_weights=a.feature_weights, video=video, fps=a.fps, scale=a.scale)
    name = result["distance"]["name"]
    for row in result["targets"]:
        print(f"{row['target']}: {name} {row['start_distance']:.4f} -> {row['distance']:.4f}, "
              f"pixel MSE {row['start_mse']:.4f} -> {row['mse']:.4f} ({row['psnr_db']} dB)")
    print(Path(a.out) / "projection.json")


def add_export(sub) -> None:
    p = sub.add_parser("export", help="write the generator as a model folder or ONNX",
                       description="safetensors: OUT becomes a standalone model folder "
                                   "(model.json + G_ema.safetensors). onnx: OUT/generator.onnx "
                                   "taking z (N, z_dim) [+ labels (N,) int64] + truncation "
                                   "(1,) (psi, as --truncation), giving float32 NCHW images in "
                                   "[-1, 1], checked against PyTorch with onnxruntime.")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("--format", default="safetensors", help="safetensors (default) or onnx")
    p.add_argument("--out", required=True, help="folder to write")
    p.add_argument("--uint8", action="store_true",
                   help="onnx: output uint8 (N, H, W, C) pixels instead of float NCHW")
    add_device_option(p)
    p.set_defaults(run=run_export)


def run_export(a) -> None:
    from ..api import load
    # Whatever the device, export writes CPU weights (ganvas.export.cpu_copy).
    print(load(a.model, a.device).export(a.out, a.format, uint8=a.uint8))


def add_import(sub) -> None:
    p = sub.add_parser("import", help="an NVlabs StyleGAN pickle as a ganvas model folder",
                       description="Reads a network pickle of stylegan2-ada-pytorch, stylegan3 "
                                   "(T, R or its StyleGAN2) or TensorFlow StyleGAN2 without "
                                   "running any code in it, and writes OUT: model.json, "
                                   "G_ema and, where the file has them, G and D with the "
                                   "augmentation p. Every verb also takes the .pkl directly.")
    p.add_argument("pickle", help="FILE.pkl, or a URL (URL#sha256=HEX pins its checksum)")
    p.add_argument("--out", required=True, help="a new or empty folder to write")
    p.set_defaults(run=run_import)


def run_import(a) -> None:
    from ..api import import_pickle
    print(import_pickle(a.pickle, a.out))


def add_app(sub) -> None:
    p = sub.add_parser("app", help="a web page to play with a model (Streamlit)",
                       description="Serve a page with a gallery, latent sliders, walks, style "
                                   "mixing and the model card of MODEL; open the printed "
                                   "address in a browser. Local only unless --host is given.")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    add_device_option(p)
    p.set_defaults(run=run_app)


def run_app(a) -> None:
    from ..app.launch import launch
    code = launch(a.model, host=a.host, port=a.port, device=a.device)
    if code:
        raise SystemExit(code)
