"""froggan_path.py — the FrogGAN workflow end to end on data the project ships: pretrain a
grey 64 px DCGAN on a larger set, fine-tune it on a small one with label smoothing and
classic augmentation, then `ganvas tune` the learning rates and label smoothing on KID, and
compare the best trial with the hand-set fine-tune at the same budget.

Sets, from the bundled demo:emoji (1,861 pictures, 9 Unicode groups), prepared grey (1
channel) at 64 px by `ganvas prepare --channels 1`: "large" is every group but Animals &
Nature (1,709 pictures), "small" is Animals & Nature (152, the frogs among them).

    pretrain   --model on large for --pretrain-kimg
    defaults   fine-tune on small from it: the preset's learning rates, --label-smoothing
               0.1, --classic-aug, --kimg of training, KID at every quarter
    tune       the same fine-tune in --trials trials, lr_g and lr_d (log scale, a factor 4
               either side of the preset's) and label smoothing (0-0.2) searched, on KID

KID is measured as training measures it, on the small set's 152 pictures against as many
samples of seeds 0..151, in the features of --extractor. This machine cannot download
Inception-v3's weights, so the default is `random-conv`, ganvas's fixed random conv net:
its KID ranks models of one setup but is not comparable with published KID. Give
--extractor inception-v3 (with GANVAS_WEIGHTS_INCEPTION_V3 or a network) for the standard.

Every run trains from seed 0; which values the trials try is Optuna's TPE sampler's choice
(unseeded). One JSON line on stdout, a summary on stderr.

    python benchmarks/froggan_path.py                       # ~30 minutes on 2 CPU cores
    python benchmarks/froggan_path.py --pretrain-kimg 4 --kimg 2 --trials 2   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from PIL import Image

import ganvas
from ganvas.data.dataset import load_archive, resolve_dataset

SMALL_GROUP = "Animals & Nature"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def export_sets(root: Path) -> tuple[Path, Path]:
    """large/ and small/ PNG folders from the demo archive, then grey archives of both."""
    archive = load_archive(resolve_dataset("demo:emoji", resolution=64, labels="folders"))
    small_label = archive.class_names.index(SMALL_GROUP)
    zips = []
    for name, keep in (("large", lambda lab: lab != small_label),
                       ("small", lambda lab: lab == small_label)):
        folder = root / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for i, (image, label) in enumerate(zip(archive.images, archive.labels)):
            if keep(int(label)):
                Image.fromarray(image).save(folder / f"{i:05d}.png")
        out = root / f"{name}-grey64.zip"
        out.unlink(missing_ok=True)
        log(str(ganvas.prepare(folder, out, resolution=64, channels=1)))
        zips.append(out)
    return zips[0], zips[1]


def last_value(run: Path, metric: str) -> float:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return float(json.loads(lines[-1])["metrics"][metric])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="bench-data/froggan")
    p.add_argument("--model", default="dcgan-tiny")
    p.add_argument("--pretrain-kimg", type=float, default=200)
    p.add_argument("--kimg", type=float, default=32, help="fine-tuning budget per run")
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--extractor", default="random-conv")
    a = p.parse_args()
    root = Path(a.out)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    started = time.monotonic()
    large, small = export_sets(root)
    log(f"pretraining {a.model} on {large.name} for {a.pretrain_kimg} kimg")
    pretrained = ganvas.train(str(large), out=root / "pretrain", model=a.model,
                              kimg=a.pretrain_kimg, snap_kimg=a.pretrain_kimg, progress=False)
    common = dict(model=a.model, init_from=str(pretrained), classic_aug=True,
                  extractor=a.extractor, metrics_num=1000, progress=False)
    log(f"fine-tuning with the defaults for {a.kimg} kimg")
    defaults = ganvas.train(str(small), out=root / "defaults", kimg=a.kimg,
                            snap_kimg=a.kimg / 4, metrics="kid", metrics_every=0,
                            label_smoothing=0.1, **common)
    default_kid = last_value(defaults, "kid")
    cfg = json.loads((defaults / "config.json").read_text())["train"]
    space = {"lr_g": {"low": cfg["lr_g"] / 4, "high": cfg["lr_g"] * 4, "log": True},
             "lr_d": {"low": cfg["lr_d"] / 4, "high": cfg["lr_d"] * 4, "log": True},
             "label_smoothing": {"low": 0.0, "high": 0.2}}
    log(f"tuning lr_g, lr_d, label_smoothing in {a.trials} trials of {a.kimg} kimg")
    summary = ganvas.tune(str(small), out=root / "tune", trials=a.trials,
                          kimg_per_trial=a.kimg, metric="kid", space=space, pruner="none",
                          **common)
    best = summary["best"]
    result = {"model": a.model, "extractor": a.extractor, "pretrain_kimg": a.pretrain_kimg,
              "kimg": a.kimg, "trials": a.trials, "small_images": 152,
              "defaults": {"kid": default_kid, "lr_g": cfg["lr_g"], "lr_d": cfg["lr_d"],
                           "label_smoothing": 0.1},
              "best": {"kid": best["value"], **best["params"], "trial": best["trial"]},
              "kid_ratio": best["value"] / default_kid,
              "trial_kids": [t["value"] for t in summary["trials"]],
              "minutes": round((time.monotonic() - started) / 60, 1)}
    log(f"defaults KID {default_kid:.4g}; best trial {best['trial']} KID {best['value']:.4g} "
        f"({result['kid_ratio']:.2f} of the defaults) with {best['params']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
