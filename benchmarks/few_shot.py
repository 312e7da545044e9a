"""few_shot.py — quality from a few hundred pictures: ganvas's models against the PyTorch
DCGAN example's recipe, at equal CPU minutes, scored in a feature space that knows the domain.

Sets (built here from the Noto Color Emoji font, see few_shot_data.py): 100 and 300 emoji of
one group (people and hands with a skin tone) at 64 px, and the same 300 at their native-size
stand-in of 32 px. Each model trains for `--minutes` of wall clock on an otherwise idle
machine (the JSON also records the CPU seconds each used, so a disturbed run shows), then
draws `--samples` pictures from seeds 0.. (G_ema for ganvas), which are scored against the
whole group (1,895 pictures). The set `demo` is the shipped demo:emoji archive, trained on
and scored against whole (its training-set row is 0 by construction):

- fid / kid: Frechet and kernel distance in the domain classifier's 256 features;
- swd: ganvas's multi-scale sliced Wasserstein distance on pixels (x 1e3);
- *_ratio: the value over the recipe's on the same set (below 1: better than the recipe);
- real_fid: the training set itself against the group, the floor a copying model reaches.

One JSON line per (set, model) on stdout, a table on stderr. Example:

    python benchmarks/few_shot.py                       # everything (~1 hour on 2 cores)
    python benchmarks/few_shot.py --sets tone-100 --models recipe,dcgan --minutes 1
    python benchmarks/few_shot.py --sets tone-300 --reuse --grids g   # rescore, no training

Each (set, model) keeps its pictures and timings in bench-data/few-shot/runs/SET-MODEL/
(fakes.npz, info.json); `--reuse` scores those again instead of training (for a new sheet or
table from runs already made; the JSON says `reused`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from few_shot_data import features, load_emoji, train_classifier  # noqa: E402
from few_shot_recipe import Recipe  # noqa: E402

import ganvas  # noqa: E402
from ganvas.data.archive import read_archive  # noqa: E402
from ganvas.data.dataset import locate_dataset  # noqa: E402
from ganvas.metrics.distances import (frechet_distance, kernel_inception_distance,  # noqa: E402
                                      statistics)
from ganvas.metrics.swd import swd  # noqa: E402

# set name -> (training images, resolution)
SETS = {"tone-100": (100, 64), "tone-300": (300, 64), "tone-300-32px": (300, 32),
        "demo": (0, 64)}      # the shipped demo:emoji archive, whole, scored against itself
# model name -> ganvas train flags; "recipe" is the PyTorch example
MODELS = {"recipe": None,
          "dcgan": [],                                   # ganvas train with no flags
          "dcgan-full": ["--model", "dcgan"],            # the full-width recipe
          "dcgan-noaug": ["--aug", "none"],
          "dcgan-diffaug": ["--diffaug", "color,translation,cutout"],
          "dcgan-sn": ["--spectral-norm"],                # + spectral norm in D
          "dcgan-ct": ["--diffaug", "color,translation"],  # DiffAugment without cutout
          "dcgan-t": ["--diffaug", "translation"],
          "dcgan-cc": ["--diffaug", "color,cutout"],       # DiffAugment without translation
          "dcgan-tiny": ["--model", "dcgan-tiny"],               # = dcgan on a CPU
          # dcgan-tiny before issue 14 (the paper's batch 32 and Adam 2e-4)
          "dcgan-tiny-b32": ["--model", "dcgan-tiny", "--batch", "32", "--lr-g", "2e-4",
                             "--lr-d", "2e-4"],
          "dcgan-fp32": ["--precision", "fp32"],          # no flags but float32
          "stylegan2-tiny": ["--model", "stylegan2-tiny"],
          "stylegan2-tiny-fp32": ["--model", "stylegan2-tiny", "--precision", "fp32"],
          "fastgan-tiny": ["--model", "fastgan-tiny"]}
MIN_RES = {"fastgan-tiny": 64}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_set(name: str, emoji, group: np.ndarray, root: Path) -> Path:
    """The archive of set `name`: its first N pictures of the group in a fixed shuffled
    order (so the 100 are among the 300), resized to the set's resolution and prepared with
    `ganvas prepare`."""
    count, res = SETS[name]
    archive = root / f"{name}.zip"
    if archive.is_file():
        return archive
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    for i in group[:count]:
        im = Image.fromarray(emoji.images[i])
        if res != im.width:
            im = im.resize((res, res), Image.Resampling.LANCZOS)
        im.save(folder / f"{i:05d}.png")
    subprocess.run([sys.executable, "-m", "ganvas", "prepare", str(folder), str(archive),
                    "--resolution", str(res), "--channels", "3"], check=True,
                   stdout=subprocess.DEVNULL)
    return archive


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def train_ganvas(flags: list[str], archive: Path, out: Path, minutes: float,
                 samples: int) -> tuple[np.ndarray, dict]:
    """`ganvas train ARCHIVE FLAGS --minutes M`; the run's G_ema pictures and timings."""
    out.mkdir(parents=True, exist_ok=True)
    cpu0, wall0 = children_cpu(), time.perf_counter()
    cmd = [sys.executable, "-m", "ganvas", "train", str(archive), "--out", str(out),
           "--minutes", str(minutes), *flags]
    with open(out / "console.txt", "w") as console:
        subprocess.run(cmd, check=True, stdout=console, stderr=subprocess.STDOUT)
    fakes, info = from_run(out, minutes, samples)
    return fakes, {"wall_s": time.perf_counter() - wall0, "cpu_s": children_cpu() - cpu0,
                   **info}


def from_run(out: Path, minutes: float, samples: int) -> tuple[np.ndarray, dict]:
    """The pictures of the ganvas run under `out` (G_ema of its final snapshot, seeds
    0..samples-1) and what its stats say."""
    run = next(p for p in out.iterdir() if (p / "config.json").is_file())
    lines = [json.loads(x) for x in (run / "stats.jsonl").read_text().splitlines() if x]
    kimg = max((x.get("kimg", 0.0) for x in lines), default=0.0)
    config = json.loads((run / "config.json").read_text())
    info = {"kimg": kimg, "images_per_s": 1000 * kimg / (60 * minutes), "run": str(run),
            "preset": config["train"]["preset"], "augment": config.get("augment", {})}
    model = ganvas.load(run, device="cpu")
    return model.generate(range(samples)), info


def keep(out: Path, fakes: np.ndarray, info: dict) -> None:
    """A model's pictures and timings in its runs folder, for `--reuse`."""
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "fakes.npz", fakes=fakes)
    (out / "info.json").write_text(json.dumps(info))


def load_kept(out: Path, minutes: float, samples: int) -> tuple[np.ndarray, dict]:
    """What keep() kept under `out`; for a ganvas run made before that, its pictures drawn
    again from the run (the same seeds, so the same pictures)."""
    if (out / "fakes.npz").is_file():
        info = json.loads((out / "info.json").read_text())
        fakes = np.load(out / "fakes.npz")["fakes"][:samples]
    elif out.is_dir() and any((p / "config.json").is_file() for p in out.iterdir()):
        fakes, info = from_run(out, minutes, samples)
    else:
        sys.exit(f"few_shot.py: --reuse: {out} has no kept pictures or run (train it first)")
    return fakes, {**info, "reused": True}


def train_recipe(archive: Path, minutes: float, samples: int) -> tuple[np.ndarray, dict]:
    recipe = Recipe(read_archive(archive).images)
    info = recipe.train(minutes)
    return recipe.generate(samples), info


def score(fakes: np.ndarray, reference: np.ndarray, ref_feats, net, res: int) -> dict:
    f = features(net, fakes)
    mu, sigma = statistics(f)
    kid, _ = kernel_inception_distance(f, ref_feats[0], num_subsets=50, subset_size=500)
    n = min(len(fakes), len(reference))
    s = swd(reference[:n], fakes[:n], descriptors_per_image=64, repeats=1)
    return {"fid": frechet_distance(mu, sigma, *ref_feats[1]), "kid": kid, "swd": s["mean"]}


def downscale(images: np.ndarray, res: int) -> np.ndarray:
    if images.shape[1] == res:
        return images
    return np.stack([np.asarray(Image.fromarray(a).resize((res, res), Image.Resampling.LANCZOS))
                     for a in images])


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sets", default=",".join(SETS))
    p.add_argument("--models", default="recipe,dcgan,dcgan-full,dcgan-noaug,stylegan2-tiny,"
                                       "fastgan-tiny")
    p.add_argument("--minutes", type=float, default=3.0, help="training minutes per model")
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--data-dir", default="bench-data")
    p.add_argument("--grids", default="", help="folder for an 8x8 grid PNG per (set, model)")
    p.add_argument("--reuse", action="store_true",
                   help="score each model's kept pictures again instead of training")
    a = p.parse_args(argv)
    for kind, names, known in (("set", a.sets, SETS), ("model", a.models, MODELS)):
        for n in names.split(","):
            if n not in known:
                p.error(f"unknown {kind} {n!r}; choose from {', '.join(known)}")
    return a


def grid(images: np.ndarray, path: Path) -> None:
    side = images.shape[1]
    g = images[:64].reshape(8, 8, side, side, 3).transpose(0, 2, 1, 3, 4)
    Image.fromarray(g.reshape(8 * side, 8 * side, 3)).save(path)


def sheet(rows: list[tuple[str, np.ndarray]], path: Path) -> None:
    """One labelled row of 8 pictures per model, as a 128-colour PNG (small enough to
    commit)."""
    from PIL import ImageDraw
    side, label = rows[0][1].shape[1], 150
    img = Image.new("RGB", (label + 8 * side, len(rows) * side), "white")
    draw = ImageDraw.Draw(img)
    for i, (text, pictures) in enumerate(rows):
        draw.text((4, i * side + side // 2 - 6), text, fill="black")
        for j, pic in enumerate(pictures):
            img.paste(Image.fromarray(pic), (label + j * side, i * side))
    img.quantize(128).save(path, optimize=True)


def main(argv=None) -> list[dict]:
    a = parse_args(argv)
    root = Path(a.data_dir) / "few-shot"
    emoji = load_emoji(root)
    net = train_classifier(emoji, root, log=log)
    group = np.flatnonzero(emoji.group == emoji.toned)
    group = group[np.random.RandomState(0).permutation(len(group))]
    results, sheets = [], {}
    for set_name in a.sets.split(","):
        count, res = SETS[set_name]
        if set_name == "demo":
            archive = locate_dataset("demo:emoji")
            reference = read_archive(archive).images
            count = len(reference)
        else:
            archive = make_set(set_name, emoji, group, root)
            reference = downscale(emoji.images[group], res)
        ref_f = features(net, reference)
        ref_feats = (ref_f, statistics(ref_f))
        train_f = features(net, reference[:count])
        real_fid = frechet_distance(*statistics(train_f), *ref_feats[1])
        baseline = None
        if a.grids:
            sheets[set_name] = [("training set (real)", reference[:8])]
        for model in a.models.split(","):
            if res < MIN_RES.get(model, 0):
                log(f"{set_name}: {model} skipped (needs >= {MIN_RES[model]} px)")
                continue
            out = root / "runs" / f"{set_name}-{model}"
            if a.reuse:
                log(f"{set_name}: scoring the kept pictures of {model} ...")
                fakes, info = load_kept(out, a.minutes, a.samples)
            else:
                log(f"{set_name}: training {model} for {a.minutes} min ...")
                if model == "recipe":
                    fakes, info = train_recipe(archive, a.minutes, a.samples)
                else:
                    fakes, info = train_ganvas(MODELS[model], archive, out, a.minutes,
                                               a.samples)
                keep(out, fakes, info)
            r = {"set": set_name, "images": count, "resolution": res, "model": model,
                 "minutes": a.minutes, **info, **score(fakes, reference, ref_feats, net, res),
                 "real_fid": real_fid, "load_avg_1m": os.getloadavg()[0]}
            if model == "recipe":
                baseline = r
            if baseline is not None:
                for k in ("fid", "kid", "swd"):
                    r[f"{k}_ratio"] = r[k] / baseline[k] if baseline[k] else None
            if a.grids:
                Path(a.grids).mkdir(parents=True, exist_ok=True)
                grid(fakes, Path(a.grids) / f"{set_name}-{model}.png")
            print(json.dumps(r), flush=True)
            results.append(r)
            if a.grids:
                sheets.setdefault(set_name, []).append((f"{model}  FID {r['fid']:.0f}",
                                                        fakes[:8]))
    for set_name, rows in sheets.items():
        sheet(rows, Path(a.grids) / f"{set_name}-side-by-side.png")
    print_table(results)
    return results


def print_table(results: list[dict]) -> None:
    log(f"{'set':<15}{'model':<16}{'kimg':>7}{'img/s':>8}{'fid':>8}{'kid':>8}{'swd':>8}"
        f"{'fid/recipe':>11}")
    for r in results:
        ratio = r.get("fid_ratio")
        log(f"{r['set']:<15}{r['model']:<16}{r['kimg']:>7.1f}{r['images_per_s']:>8.1f}"
            f"{r['fid']:>8.2f}{r['kid']:>8.3f}{r['swd']:>8.1f}"
            f"{'' if ratio is None else f'{ratio:.2f}':>11}")


if __name__ == "__main__":
    main()
