"""ganvas directions (SeFa, PCA) and explore --directions: the weights that first act on the
latent, the factorisation, the file, and each grid cell equal to G on the moved latent."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import ganvas
from ganvas.cli import main
from ganvas.config.schema import ModelConfig
from ganvas.errors import GanvasError
from ganvas.imaging import to_uint8
from ganvas.latent.directions import Directions, load_directions
from ganvas.models import build_generator

from tests.helpers import usage_error
from tests.helpers import DC, SG2, export_random

FASTGAN = dict(family="fastgan", resolution=32, z_dim=16, g_width=8, d_width=8)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("dirs")
    return {name: export_random(root / name, **cfg)
            for name, cfg in (("sg2", SG2), ("dc", DC), ("fast", FASTGAN))}


def test_stylegan2_latent_weights_are_the_layer_that_reads_each_w():
    """Move w index i alone: of the affines that see another input, latent_weights([i]) is
    the convolution's (SeFa's choice: one layer per w index), and for the last index, which
    no convolution reads, the last toRGB's."""
    G = build_generator(ModelConfig(**SG2)).eval()
    torgbs = [b.torgb.affine for b in G.synthesis.blocks]
    affines = [m for m in G.modules() if type(m).__name__ == "FullyConnected"
               and m.weight.shape[1] == G.w_dim and m in
               [getattr(layer, "affine", None) for layer in G.synthesis.modules()]]
    seen = {}
    for a in affines:
        a.register_forward_hook(lambda m, inp, out: seen.__setitem__(m, inp[0].clone()))
    ws = torch.randn(1, G.num_ws, G.w_dim)
    with torch.no_grad():
        G.synthesis(ws)
        base = dict(seen)
        total = 0
        for i in range(G.num_ws):
            moved = ws.clone()
            moved[:, i] += 1
            G.synthesis(moved)
            changed = [a for a in affines if not torch.equal(seen[a], base[a])]
            convs = [a for a in changed if all(a is not t for t in torgbs)]
            chosen = convs if i < G.num_ws - 1 else changed
            assert len(chosen) == 1 and (i < G.num_ws - 1 or chosen[0] is torgbs[-1])
            expected = chosen[0].weight * chosen[0].weight_gain
            assert torch.equal(G.latent_weights([i]), expected)
            total += len(expected)
    assert total == len(G.latent_weights())             # one layer per w index


def test_sefa_directions_are_the_top_eigenvectors(models):
    m = ganvas.load(models["dc"])
    found = m.directions("sefa", num=5)
    weight = m.sampler.G.latent_weights()
    weight = weight / weight.norm(dim=1, keepdim=True)
    gram = (weight.t() @ weight).double()
    vecs = torch.from_numpy(found.vectors).double()
    assert torch.allclose(vecs @ vecs.t(), torch.eye(5, dtype=torch.float64), atol=1e-5)
    # A n = lambda n, the eigenvalues falling, and none larger outside the set.
    assert torch.allclose(vecs @ gram, torch.from_numpy(found.values)[:, None] * vecs,
                          atol=1e-4)
    assert list(found.values) == sorted(found.values, reverse=True)
    assert found.values[0] == pytest.approx(float(torch.linalg.eigvalsh(gram).max()))
    assert found.space == "z" and found.method == "sefa"


def uneven_stylegan2(seed: int = 0):
    """A StyleGAN2 G whose style affines' output channels have very uneven scales (x0.05 to
    x20), as trained ones do: where normalising the wrong axis of A changes SeFa's answer."""
    G = build_generator(ModelConfig(**SG2)).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in G.synthesis.modules():
            affine = getattr(layer, "affine", None)
            if affine is not None:
                scale = torch.exp(torch.empty(affine.weight.shape[0]).uniform_(
                    np.log(0.05), np.log(20.0), generator=gen))
                affine.weight.mul_(scale[:, None])
    return G


def sefa_closed_form(G, num: int) -> tuple[np.ndarray, np.ndarray]:
    """SeFa as its authors compute it for StyleGAN2, written out here apart from ganvas: the
    style weights (w_dim x channels) of every convolution and of the last toRGB, side by
    side, each channel's column scaled to unit length, then the top eigenvectors of
    W W^T."""
    blocks = G.synthesis.blocks
    layers = [conv for b in blocks for conv in (b.conv0, b.conv1) if conv is not None]
    layers.append(blocks[-1].torgb)
    W = np.concatenate([(lay.affine.weight * lay.affine.weight_gain).detach().double().numpy().T
                        for lay in layers], axis=1)                    # (w_dim, channels)
    W = W / np.linalg.norm(W, axis=0, keepdims=True)
    values, vectors = np.linalg.eigh(W @ W.T)
    order = np.argsort(values)[::-1][:num]
    return vectors[:, order].T, values[order]


def test_sefa_is_the_closed_form_of_its_authors_on_uneven_channels():
    from ganvas.latent.directions import sefa
    from ganvas.latent.sampler import Sampler
    G = uneven_stylegan2()
    found = sefa(Sampler(G), num=5)
    vectors, values = sefa_closed_form(G, 5)
    cosines = np.abs((found.vectors.astype(np.float64) * vectors).sum(axis=1))
    assert cosines.min() > 0.9999, cosines
    assert np.allclose(found.values, values, rtol=1e-5)


def test_sefa_ignores_the_scale_of_each_output_channel():
    """Scaling one output channel's weights does not change what it responds to, so SeFa's
    directions stay (the old column normalisation moved them to |cos| 0.005-0.2)."""
    from ganvas.latent.directions import sefa
    from ganvas.latent.sampler import Sampler
    plain = build_generator(ModelConfig(**SG2)).eval()
    scaled = build_generator(ModelConfig(**SG2)).eval()
    scaled.load_state_dict(plain.state_dict())
    with torch.no_grad():
        for a, b in zip(plain.synthesis.modules(), scaled.synthesis.modules()):
            if getattr(a, "affine", None) is not None:
                rows = b.affine.weight.shape[0]
                b.affine.weight.mul_(torch.linspace(0.05, 20.0, rows)[:, None])
    d1, d2 = sefa(Sampler(plain), num=5), sefa(Sampler(scaled), num=5)
    assert np.abs((d1.vectors * d2.vectors).sum(axis=1)).min() > 0.9999


@pytest.mark.parametrize("name, space", [("sg2", "w"), ("dc", "z"), ("fast", "z")])
def test_every_family_gets_directions_both_ways(models, name, space):
    m = ganvas.load(models[name])
    for method in ("sefa", "pca"):
        found = m.directions(method, num=4)
        assert found.space == space and found.vectors.shape[0] == 4
        assert np.allclose(np.linalg.norm(found.vectors, axis=1), 1, atol=1e-5)
        assert list(found.values) == sorted(found.values, reverse=True)


def test_pca_of_w_finds_its_widest_spread(models):
    m = ganvas.load(models["sg2"])
    found = m.directions("pca", num=3)
    w = m.sampler.to_w(torch.randn(4000, m.sampler.z_dim))[:, 0]
    spread = (w @ torch.from_numpy(found.vectors).t()).var(dim=0)
    random = (w @ torch.nn.functional.normalize(torch.randn(3, w.shape[1]), dim=1).t()).var(0)
    assert (spread[0] > spread[1:]).all() and spread[0] > random.max()


def test_explore_along_directions_moves_the_latent(models, tmp_path):
    m = ganvas.load(models["dc"])
    found = m.directions(num=3)
    cells = m.explore_directions(7, found, rows=[0, 2], lo=-2, hi=2, steps=5,
                                 out=tmp_path / "g.png")
    assert cells.shape == (2, 5, 16, 16, 3)
    assert (cells[:, 2] == m.generate([7])[0]).all()        # value 0: the seed itself
    z = m.sampler.z([7]) + 1.0 * torch.from_numpy(found.vectors[2])
    assert (cells[1, 3] == to_uint8(m.sampler.images(z))[0]).all()
    assert not (cells[0, 0] == cells[0, 4]).all()
    assert Image.open(tmp_path / "g.png").size[0] > Image.open(tmp_path / "g.png").size[1]


def test_stylegan2_directions_of_some_layers_move_only_those(models):
    m = ganvas.load(models["sg2"])
    found = m.directions("sefa", num=2, layers=[0, 1])
    assert found.layers == (0, 1)
    cells = m.explore_directions(3, found, rows=[0], lo=-3, hi=3, steps=3)
    from ganvas.latent.explore import unit_steps
    ws = m.sampler.to_w(m.sampler.z([3]))
    moved = ws.clone()
    moved[:, :2] += 3.0 * unit_steps(m.sampler, found, [0])[0]   # one unit: w's own spread
    expected = to_uint8(m.sampler.images_from_w(moved))[0]
    assert np.abs(cells[0, 2].astype(int) - expected.astype(int)).max() <= 2


def test_the_direction_file(models, tmp_path):
    m = ganvas.load(models["sg2"])
    path = tmp_path / "d.npz"
    found = m.directions("sefa", num=3, layers=[2], out=path)
    loaded = load_directions(path)
    assert np.array_equal(loaded.vectors, found.vectors) and loaded.layers == (2,)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(GanvasError, match="not a direction file"):
        load_directions(tmp_path / "bad.npz")
    other = Directions(np.eye(3, 7, dtype=np.float32), np.ones(3), "z", "sefa")
    with pytest.raises(GanvasError, match="directions of another model"):
        ganvas.load(models["dc"]).explore_directions(0, other)


def test_directions_cli(models, tmp_path, capsys):
    out = tmp_path / "d.npz"
    assert main(["directions", str(models["sg2"]), "--num", "3", "--layers", "0-3", "--out",
                 str(out)]) == 0
    assert "direction 2: eigenvalue" in capsys.readouterr().out
    grid = tmp_path / "grid.png"
    assert main(["explore", str(models["sg2"]), "--directions", str(out), "--seed", "1",
                 "--steps", "5", "--out", str(grid)]) == 0
    assert Image.open(grid).size[0] > Image.open(grid).size[1]      # 3 rows of 5
    assert "no w space" in usage_error(["directions", str(models["dc"]), "--layers", "0",
                                        "--out", str(out)], capsys)
    assert "give a .npz" in usage_error(["directions", str(models["dc"]), "--out",
                                         str(tmp_path / "d.txt")], capsys)
    assert "give 1 to" in usage_error(["directions", str(models["dc"]), "--num", "0", "--out",
                                       str(out)], capsys)
    assert "unknown method" in usage_error(["directions", str(models["dc"]), "--method", "ica",
                                            "--out", str(out)], capsys)
    assert "--dims" in usage_error(["explore", str(models["dc"]), "--out", str(grid)], capsys)
    assert "out of range" in usage_error(["directions", str(models["sg2"]), "--layers", "99",
                                          "--out", str(out)], capsys)


@pytest.mark.parametrize("name", ["sg2", "dc"])
def test_a_sweep_saved_as_keyframes_is_walked_through_its_cells(models, tmp_path, capsys, name):
    """explore --save-latents writes the cells' latents; interpolate --latents walks them,
    and the walk's keyframe frames are the sweep's cells."""
    dirs, keys = tmp_path / "d.npz", tmp_path / "keys.npz"
    assert main(["directions", str(models[name]), "--num", "2", "--out", str(dirs)]) == 0
    assert main(["explore", str(models[name]), "--directions", str(dirs), "--dims", "1",
                 "--steps", "4", "--range", "-2", "2", "--out", str(tmp_path / "g.png"),
                 "--save-latents", str(keys)]) == 0
    m = ganvas.load(models[name])
    cells = m.explore_directions(0, dirs, rows=[1], lo=-2, hi=2, steps=4)
    walk = m.walk(latents=keys, frames_per_step=3, method="lerp")
    assert len(walk) == 3 * 3 + 1
    frames = walk.frames()
    for k in range(4):
        assert np.abs(frames[3 * k].astype(int) - cells[0, k].astype(int)).max() <= 1
    assert main(["interpolate", str(models[name]), "--latents", str(keys), "--frames-per-step",
                 "2", "--out", str(tmp_path / "walk.gif")]) == 0
    assert "does not end in .npz" in usage_error(
        ["explore", str(models[name]), "--dims", "0", "--out", str(tmp_path / "h.png"),
         "--save-latents", str(tmp_path / "keys.txt")], capsys)
    assert not (tmp_path / "h.png").exists()
