"""Verbs that measure: eval (metrics, memorization) and report."""

from __future__ import annotations

from pathlib import Path

from .options import MODEL_HELP, add_device_option


def add_eval(sub) -> None:
    p = sub.add_parser("eval", help="measure a model against its training images",
                       description="Generate --num images and compare them with all the "
                                   "training images (up to 50,000); write a metrics JSON "
                                   "into the run (or --out), print a table with both counts, "
                                   "which way each metric is better and what two halves of "
                                   "the training images score against each other.")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("--metrics", help="comma-separated: swd (no weights needed), fid, kid, "
                   "is (Inception-v3), pr (VGG-16); default swd, none with --memorization")
    p.add_argument("--num", type=int, help="generated images, 2 to 50,000, compared with all "
                   "training images (default 5,000 on a GPU, 1,000 on a CPU; with --memorization "
                   "1,000 samples)")
    p.add_argument("--extractor", help="features for all of fid/kid/is/pr instead of the "
                   "standard ones, e.g. random-conv (offline; ganvas-only scale)")
    add_feature_weights(p)
    p.add_argument("--out", help="JSON file to write (default: into the run measured, "
                   "RUN/eval/kimg-NNNNNN-METRICS.json, which its report shows; required for "
                   "a model that is not a run or one of its snapshots)")
    add_device_option(p)
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
    from ..api import evaluate, load, memorization
    from ..metrics import evaluate as ev
    from ..metrics import memorization as mem
    from ..limits import check_generated
    from ..runfolder.imported import is_network_pickle
    from ..runfolder.locate import eval_out
    eval_num = None if a.num is None else check_generated(a.num)   # None: the device's
    mem_num = check_generated(1000 if a.num is None else a.num)   # the limit before any work
    names = ev.parse_metrics(a.metrics or "swd") if a.metrics or not a.memorization else None
    if names and not a.out and is_network_pickle(a.model):
        eval_out(a.model, None, 0.0, names)      # asks for --out before reading the pickle
    model = load(a.model, a.device)            # once, for both checks
    out = None
    if names:                                  # where the JSON goes: known before any work
        out = Path(a.out) if a.out else eval_out(a.model, model.path, model.kimg, names,
                                                 a.extractor)
    if a.memorization:
        print(mem.table(memorization(
            model, mem_num, a.extractor, a.feature_weights, a.memorization_dir,
            neighbours=a.neighbours, train_limit=a.train_limit, device=a.device)))
    if names:
        result = evaluate(model, names, eval_num, a.extractor, a.feature_weights, out=out,
                          device=a.device)
        print(ev.table(result))
        print(out)


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
    from ..api import report
    print(report(a.run_dir, out=a.out))
