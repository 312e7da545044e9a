"""Build the bundled demo dataset `demo:emoji` from the Noto Color Emoji font.

A dev-time script: it runs on a maintainer's Debian/Ubuntu machine, never at user run time.
It needs fontTools (`pip install -e .[dev]`) and two Debian packages:

    apt-get install -y fonts-noto-color-emoji unicode-data

    python scripts/build_emoji_dataset.py --out src/ganvas/data/demo/emoji.zip

What it does, in order:
  1. reads every fully-qualified emoji sequence and its group from emoji-test.txt;
  2. drops skin-tone variants (any of U+1F3FB..U+1F3FF) and the Component group;
  3. finds each sequence's glyph: one code point through the cmap, longer sequences through
     the GSUB ligature tables (tried with and without U+FE0F);
  4. takes the glyph's PNG from the CBDT table (136x128 RGBA), makes it square by trimming the
     transparent side margins (or padding when a glyph reaches into them), composites it on
     white and resizes it to 64x64 with LANCZOS;
  5. writes an RGB ganvas dataset archive with ArchiveWriter, labelled by Unicode group,
     dropping the Flags group when the whole set would pass the 8 MB budget.

The output is deterministic: the same font and emoji-test.txt give the same archive bytes.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ganvas.data.archive import ArchiveWriter

DEFAULT_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
DEFAULT_EMOJI_TEST = "/usr/share/unicode/emoji/emoji-test.txt"
FONT_PACKAGE = "fonts-noto-color-emoji"
RESOLUTION = 64
MAX_BYTES = 8_000_000           # 8 MB (decimal): the archive ships inside the wheel
DROP_ORDER = ["Flags"]             # groups given up, in this order, to fit MAX_BYTES
SKIN_TONES = range(0x1F3FB, 0x1F3FF + 1)
VS16 = 0xFE0F                      # emoji presentation selector


@dataclass
class Emoji:
    """One fully-qualified emoji sequence from emoji-test.txt."""

    codepoints: tuple[int, ...]
    group: str
    name: str          # CLDR short name, e.g. "grinning face"

    @property
    def source(self) -> str:
        hexes = " ".join(f"U+{cp:04X}" for cp in self.codepoints)
        return f"{hexes} {self.name}"


# ---------------------------------------------------------------------------------- inputs

def parse_emoji_test(path: Path) -> tuple[list[Emoji], list[str], str]:
    """Fully-qualified sequences, all group names in file order, and the file's version."""
    emojis: list[Emoji] = []
    groups: list[str] = []
    group, version = "", "unknown"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# Version:"):
            version = line.split(":", 1)[1].strip()
        elif line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
            groups.append(group)
        elif line and not line.startswith("#"):
            fields, _, comment = line.partition("#")
            cps, _, status = fields.partition(";")
            if status.strip() != "fully-qualified":
                continue
            # comment: "<emoji> E<version> <name>"
            name = comment.strip().split(" ", 2)[2]
            emojis.append(Emoji(tuple(int(h, 16) for h in cps.split()), group, name))
    if not emojis:
        raise SystemExit(f"error: no fully-qualified emoji found in {path}")
    return emojis, groups, version


def debian_version(package: str) -> str:
    """The installed Debian version of `package`, or "unknown" off Debian."""
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


class EmojiFont:
    """The glyph lookup and CBDT bitmaps of a color-bitmap emoji font."""

    def __init__(self, path: Path):
        from fontTools.ttLib import TTFont  # dev-only dependency

        font = TTFont(str(path))
        if "CBDT" not in font:
            raise SystemExit(f"error: {path} has no CBDT table (not a color bitmap font)")
        self.version = font["name"].getDebugName(5) or "unknown"
        self.cmap: dict[int, str] = font.getBestCmap()
        self.ligatures = self._ligatures(font)
        # One strike in Noto Color Emoji; take the largest if there are more.
        strikes = font["CBDT"].strikeData
        strike = max(strikes, key=lambda s: max(len(b.imageData) for b in s.values()))
        self.bitmaps: dict[str, bytes] = {name: bm.imageData for name, bm in strike.items()}

    @staticmethod
    def _ligatures(font) -> dict[tuple[str, ...], str]:
        """{(glyph, glyph, ...): ligature glyph} from every GSUB ligature lookup."""
        table: dict[tuple[str, ...], str] = {}
        if "GSUB" not in font:
            return table
        for lookup in font["GSUB"].table.LookupList.Lookup:
            for sub in lookup.SubTable:
                if lookup.LookupType == 7:         # extension: unwrap
                    sub = sub.ExtSubTable
                if not hasattr(sub, "ligatures"):
                    continue
                for first, ligs in sub.ligatures.items():
                    for lig in ligs:
                        table.setdefault((first, *lig.Component), lig.LigGlyph)
        return table

    def glyph(self, codepoints: tuple[int, ...]) -> str | None:
        """The glyph that draws a sequence, or None when the font lacks it."""
        bare = tuple(cp for cp in codepoints if cp != VS16)
        for seq in dict.fromkeys((codepoints, bare)):        # with, then without U+FE0F
            names = [self.cmap.get(cp) for cp in seq]
            if not seq or None in names:
                continue
            name = names[0] if len(names) == 1 else self.ligatures.get(tuple(names))
            if name in self.bitmaps:
                return name
        return None


# ------------------------------------------------------------------------------- rendering

def square(rgba: np.ndarray) -> np.ndarray:
    """Make an RGBA HWC bitmap square without cutting the glyph.

    Noto's bitmaps are 136 wide x 128 high with the art inside x = 4..131: trimming 4
    transparent columns on each side keeps the font's 128-unit design grid (relative sizes
    between emoji stay as drawn). A glyph that reaches into a margin is padded instead.
    """
    h, w = rgba.shape[:2]
    if h == w:
        return rgba
    long_, short = max(h, w), min(h, w)
    lo = (long_ - short) // 2
    hi = lo + short
    alpha = rgba[:, :, 3] if w > h else rgba[:, :, 3].T        # long axis = columns
    if not alpha[:, :lo].any() and not alpha[:, hi:].any():
        return rgba[:, lo:hi] if w > h else rgba[lo:hi, :]
    pad = ((lo, long_ - hi), (0, 0)) if w > h else ((0, 0), (lo, long_ - hi))
    return np.pad(rgba, (*pad, (0, 0)))                         # transparent padding


def render(png: bytes, resolution: int = RESOLUTION) -> np.ndarray:
    """A CBDT PNG as uint8 HWC RGB on white, resolution x resolution."""
    with Image.open(io.BytesIO(png)) as im:
        rgba = np.asarray(im.convert("RGBA"))
    sq = Image.fromarray(square(rgba), "RGBA")
    white = Image.new("RGBA", sq.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, sq).convert("RGB")
    return np.asarray(rgb.resize((resolution, resolution), Image.LANCZOS))


# --------------------------------------------------------------------------------- writing

def select(emojis: list[Emoji], font: EmojiFont) -> tuple[list[tuple[Emoji, str]], dict]:
    """(emoji, glyph) pairs to draw, in file order, and what was skipped and why.

    A few flags share one glyph (Spain and Ceuta & Melilla, Norway and Bouvet Island, ...);
    each glyph is drawn once, under the sequence with the shortest name (in Unicode 15.0 that
    picks Spain, Norway, France, Australia, United States and Diego Garcia).
    """
    by_glyph: dict[str, list[tuple[int, Emoji]]] = {}    # glyph -> (file position, emoji)
    skipped: list[dict] = []
    # duplicate: same glyph as a kept sequence, or (drop_identical) the same pixels
    counts = {"skin_tone": 0, "component": 0, "no_glyph": 0, "duplicate": 0}
    for i, e in enumerate(emojis):
        if e.group == "Component":
            counts["component"] += 1
        elif any(cp in SKIN_TONES for cp in e.codepoints):
            counts["skin_tone"] += 1                  # too many to list one by one
        elif (glyph := font.glyph(e.codepoints)) is None:
            counts["no_glyph"] += 1
            skipped.append({"path": e.source, "reason": "no glyph in the font"})
        else:
            by_glyph.setdefault(glyph, []).append((i, e))
    chosen: dict[int, tuple[Emoji, str]] = {}
    duplicates: list[dict] = []
    for glyph, group in by_glyph.items():
        i, keep = min(group, key=lambda ie: len(ie[1].name))  # min() keeps the first on ties
        chosen[i] = (keep, glyph)
        for _, e in group:
            if e is not keep:
                counts["duplicate"] += 1
                duplicates.append({"path": e.source, "duplicate_of": keep.source})
    kept = [chosen[i] for i in sorted(chosen)]
    return kept, {"counts": counts, "skipped": skipped, "duplicates": duplicates}


def drop_identical(items: list[tuple[Emoji, np.ndarray]],
                   report: dict) -> list[tuple[Emoji, np.ndarray]]:
    """Keep the first of images that are pixel-identical (two glyphs can share a drawing)."""
    first: dict[bytes, Emoji] = {}
    out = []
    for e, image in items:
        key = image.tobytes()
        if key in first:
            report["counts"]["duplicate"] += 1
            report["duplicates"].append({"path": e.source, "duplicate_of": first[key].source})
        else:
            first[key] = e
            out.append((e, image))
    return out


def write_archive(path: Path, items: list[tuple[Emoji, np.ndarray]], class_names: list[str],
                  extra: dict, manifest: dict) -> Path:
    """Write the archive with ArchiveWriter (which pins member dates: reproducible bytes)."""
    index = {name: i for i, name in enumerate(class_names)}
    with ArchiveWriter(path, RESOLUTION, 3, class_names) as writer:
        for e, image in items:
            writer.add(image, label=index[e.group], source=e.source)
        writer.close(manifest=manifest, extra=extra)
    return path


def build(font_path: Path, emoji_test: Path, out: Path) -> dict:
    """Build the archive at `out`; returns a summary (counts per class, bytes, dropped)."""
    emojis, groups, test_version = parse_emoji_test(emoji_test)
    font = EmojiFont(font_path)
    kept, report = select(emojis, font)
    rendered = drop_identical([(e, render(font.bitmaps[glyph])) for e, glyph in kept], report)

    print(f"{len(rendered)} emoji drawn; left out: {report['counts']}")
    class_order = [g for g in groups if g != "Component"]
    dropped: list[str] = []
    base_extra = {
        "name": "emoji",
        "source": f"Noto Color Emoji ({FONT_PACKAGE} {debian_version(FONT_PACKAGE)})",
        "license": "Apache-2.0",
        "font_version": font.version,
        "emoji_test": f"Unicode emoji-test.txt {test_version} "
                      f"(unicode-data {debian_version('unicode-data')})",
        "tool": "scripts/build_emoji_dataset.py",
        "processing": "CBDT PNG, transparent side margins trimmed to square, composited on "
                      f"white, LANCZOS to {RESOLUTION}x{RESOLUTION}; skin-tone variants and "
                      "the Component group left out",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".emoji-build-") as tmpdir:
        while True:
            class_names = [g for g in class_order if g not in dropped]
            items = [(e, im) for e, im in rendered if e.group in class_names]
            per_class = {g: sum(e.group == g for e, _ in items) for g in class_names}
            manifest = {
                "summary": {"num_images": len(items), "per_class": per_class,
                            "left_out": {**report["counts"], "dropped_groups": dropped}},
                "kept": [e.source for e, _ in items],
                "skipped": report["skipped"],
                "duplicates": report["duplicates"],
            }
            extra = {**base_extra, "dropped_groups": dropped}
            trial = write_archive(Path(tmpdir) / out.name, items, class_names, extra, manifest)
            size = trial.stat().st_size
            print(f"{len(items)} images, {size:,} bytes with groups {class_names}")
            if size <= MAX_BYTES:
                break
            remaining = [g for g in DROP_ORDER if g in class_names]
            if not remaining:
                raise SystemExit(f"error: archive is {size:,} bytes, over the "
                                 f"{MAX_BYTES:,}-byte budget even without {dropped}")
            dropped.append(remaining[0])
            print(f"over {MAX_BYTES:,} bytes: dropping group {remaining[0]!r}")
        os.replace(trial, out)
    return {"per_class": per_class, "bytes": size, "dropped_groups": dropped}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="archive to write (.zip)")
    parser.add_argument("--font", type=Path, default=Path(DEFAULT_FONT),
                        help=f"Noto Color Emoji font (default {DEFAULT_FONT})")
    parser.add_argument("--emoji-test", type=Path, default=Path(DEFAULT_EMOJI_TEST),
                        help=f"Unicode emoji-test.txt (default {DEFAULT_EMOJI_TEST})")
    args = parser.parse_args(argv)
    if not args.font.is_file():
        parser.exit(2, f"error: font {args.font} not found; install the Debian package "
                       f"{FONT_PACKAGE} (apt-get install {FONT_PACKAGE}) or pass --font\n")
    if not args.emoji_test.is_file():
        parser.exit(2, f"error: {args.emoji_test} not found; install the Debian package "
                       "unicode-data (apt-get install unicode-data) or pass --emoji-test\n")
    try:
        import fontTools  # noqa: F401
    except ImportError:
        parser.exit(2, "error: fontTools is missing; pip install fonttools "
                       "(or pip install -e .[dev])\n")
    summary = build(args.font, args.emoji_test, args.out)
    for group, n in summary["per_class"].items():
        print(f"  {n:5d}  {group}")
    print(f"wrote {args.out} ({summary['bytes']:,} bytes), "
          f"dropped groups: {summary['dropped_groups'] or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
