"""The few-shot benchmark's data: Noto Color Emoji with labels, and a domain classifier.

Every bitmap of the font (3,926 in Debian's fonts-noto-color-emoji) is read with its Unicode
sequence (cmap for single code points, GSUB ligatures for sequences), composed on white and
padded to a square. Three labels per picture train a small classifier whose penultimate layer
is the benchmark's feature space (random or ImageNet features barely see emoji quality):

- group: a coarse category (flags, people with a skin tone, other ZWJ sequences, and the
  Unicode block of the first code point for the rest),
- tone: none or one of the five Fitzpatrick modifiers,
- base: for the people-with-a-skin-tone group, which person or hand it is (the sequence with
  its tone modifiers removed); -1 (ignored) for the rest.

The training sets are drawn from the people-with-a-skin-tone group (1,895 pictures: persons
and hands in five skin tones), and that whole group is the reference the models are scored
against.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
TONES = range(0x1F3FB, 0x1F400)
ZWJ = 0x200D
CLASSIFIER_VERSION = 1
CLASSIFIER_RES = 64


@dataclass
class Emoji:
    images: np.ndarray      # uint8 (N, 64, 64, 3), composed on white
    group: np.ndarray       # int64 (N,)
    tone: np.ndarray        # int64 (N,), 0 = none, 1..5
    base: np.ndarray        # int64 (N,), -1 outside the toned group
    toned: int              # the group index of people with a skin tone


def _sequences(tt) -> dict[str, list[int]]:
    """glyph name -> its Unicode sequence (single code points from cmap, sequences from
    GSUB's ligature substitutions)."""
    cmap = {glyph: cp for cp, glyph in tt.getBestCmap().items()}
    seq = {glyph: [cp] for glyph, cp in cmap.items()}
    for lookup in tt["GSUB"].table.LookupList.Lookup:
        for sub in lookup.SubTable:
            for first, ligatures in getattr(sub, "ligatures", {}).items():
                for lig in ligatures:
                    seq[lig.LigGlyph] = [cmap.get(first, 0)] + [cmap.get(c, 0)
                                                                for c in lig.Component]
    return seq


def _group_name(seq: list[int]) -> str:
    if any(c in TONES for c in seq):
        return "toned"
    if 0x1F1E6 <= seq[0] <= 0x1F1FF or 0xE0020 <= seq[-1] <= 0xE007F:
        return "flag"
    if ZWJ in seq:
        return "zwj"
    return f"block-{seq[0] >> 8:x}" if seq[0] >= 0x1F000 else "symbol"


def _on_white(png: bytes, size: int) -> np.ndarray:
    """A font bitmap (RGBA PNG) composed on white, padded to a square, resized to `size`."""
    with Image.open(io.BytesIO(png)) as im:
        rgba = im.convert("RGBA")
    side = max(rgba.size)
    canvas = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    canvas.alpha_composite(rgba, ((side - rgba.width) // 2, (side - rgba.height) // 2))
    small = canvas.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.uint8)


def load_emoji(cache: Path) -> Emoji:
    """Every emoji of the font with its labels, cached as an .npz under `cache`."""
    path = cache / "emoji-labelled-v1.npz"
    if path.is_file():
        with np.load(path) as z:
            return Emoji(z["images"], z["group"], z["tone"], z["base"], int(z["toned"]))
    if not EMOJI_FONT.is_file():
        raise SystemExit(f"few_shot.py needs {EMOJI_FONT} (Debian package "
                         f"fonts-noto-color-emoji) for its labelled sets")
    from fontTools.ttLib import TTFont
    tt = TTFont(str(EMOJI_FONT))
    seq = _sequences(tt)
    strike = tt["CBDT"].strikeData[0]
    images, groups, tones, bases = [], [], [], []
    for name in sorted(strike):
        data = getattr(strike[name], "imageData", b"")
        if data[:8] != b"\x89PNG\r\n\x1a\n" or name not in seq:
            continue
        s = seq[name]
        images.append(_on_white(data, CLASSIFIER_RES))
        groups.append(_group_name(s))
        tone = [c for c in s if c in TONES]
        tones.append(tone[0] - TONES.start + 1 if tone else 0)
        bases.append(tuple(c for c in s if c not in TONES) if tone else None)
    group_names = sorted(set(groups))
    base_names = sorted({b for b in bases if b is not None})
    e = Emoji(images=np.stack(images),
              group=np.array([group_names.index(g) for g in groups]),
              tone=np.array(tones),
              base=np.array([base_names.index(b) if b is not None else -1 for b in bases]),
              toned=group_names.index("toned"))
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, images=e.images, group=e.group, tone=e.tone, base=e.base,
                        toned=e.toned)
    tmp.replace(path)
    return e


class DomainNet(nn.Module):
    """Four conv stages (32-64-128-256 channels, one 3x3 conv each, 64 -> 4 px), a global
    average pool to 256 features, and three linear heads (group, tone, base)."""

    def __init__(self, groups: int, tones: int, bases: int):
        super().__init__()
        layers, c_in = [], 3
        for c in (32, 64, 128, 256):
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                       nn.MaxPool2d(2)]
            c_in = c
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.heads = nn.ModuleList([nn.Linear(256, n) for n in (groups, tones, bases)])

    def forward(self, x):
        f = self.body(x)
        return f, [h(f) for h in self.heads]


def to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) at any power-of-two size -> float (N, 3, 64, 64) in [-1, 1]: smaller
    sets (the native 32 px one) are upsampled bilinearly, so every set is seen the same way."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1
    if x.shape[-1] != CLASSIFIER_RES:
        x = nn.functional.interpolate(x, size=CLASSIFIER_RES, mode="bilinear",
                                      align_corners=False, antialias=True)
    return x


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random shifts of up to 4 px and horizontal flips, so the features do not hinge on
    exact pixel positions (generated pictures are never pixel-aligned)."""
    n = len(x)
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    pad = nn.functional.pad(x, (4, 4, 4, 4), mode="replicate")
    dx, dy = torch.randint(0, 9, (2,), generator=gen).tolist()
    return pad[:, :, dy:dy + CLASSIFIER_RES, dx:dx + CLASSIFIER_RES]


def train_classifier(e: Emoji, cache: Path, epochs: int = 10, log=print) -> DomainNet:
    """Trains (or loads from `cache`) the domain classifier on every emoji."""
    sizes = (int(e.group.max()) + 1, 6, int(e.base.max()) + 1)
    net = DomainNet(*sizes)
    path = cache / f"domain-classifier-v{CLASSIFIER_VERSION}.pt"
    if path.is_file():
        net.load_state_dict(torch.load(path, weights_only=True))
        return net.eval()
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    x_all = to_input(e.images)
    targets = [torch.from_numpy(a) for a in (e.group, e.tone, e.base)]
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    ce = nn.CrossEntropyLoss(ignore_index=-1)
    for epoch in range(epochs):
        order = torch.randperm(len(x_all), generator=gen)
        correct = [0, 0, 0]
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            _, logits = net(_augment(x_all[idx], gen))
            loss = sum(ce(lg, t[idx]) for lg, t in zip(logits, targets))
            opt.zero_grad()
            loss.backward()
            opt.step()
            for k, (lg, t) in enumerate(zip(logits, targets)):
                keep = t[idx] >= 0
                correct[k] += int((lg.argmax(1)[keep] == t[idx][keep]).sum())
        known = [len(e.group), len(e.tone), int((e.base >= 0).sum())]
        log(f"  classifier epoch {epoch + 1}/{epochs}: train accuracy group "
            f"{correct[0] / known[0]:.2f}, tone {correct[1] / known[1]:.2f}, "
            f"base {correct[2] / known[2]:.2f}")
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(net.state_dict(), tmp)
    tmp.replace(path)
    (cache / "domain-classifier.json").write_text(json.dumps(
        {"version": CLASSIFIER_VERSION, "epochs": epochs, "sizes": sizes}))
    return net.eval()


@torch.no_grad()
def features(net: DomainNet, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """(N, 256) float64 features of uint8 (N, H, W, 3) pictures."""
    net.eval()
    out = [net(to_input(images[i:i + batch]))[0] for i in range(0, len(images), batch)]
    return torch.cat(out).double().numpy()
