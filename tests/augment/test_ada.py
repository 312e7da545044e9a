"""ADA: the augmentation pipe (every pipeline name) and the controller that owns its p."""

from __future__ import annotations

import io
import threading

import pytest
import torch
import torch.nn.functional as F

from ganvas.augment.ada import PIPES, AdaController, AugmentPipe
from ganvas.errors import ConfigError

NAMES = list(PIPES)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n=8, c=3, h=16, w=16, seed=123) -> torch.Tensor:
    """Random float (n, c, h, w) in [-1, 1]: asymmetric, so every transform shows."""
    return torch.rand(n, c, h, w, generator=gen(seed)) * 2 - 1


def pipe(name: str, p: float) -> AugmentPipe:
    a = AugmentPipe(name)
    a.p = p
    return a


def changed(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(N,) bool: which samples the augmentation moved (beyond float rounding)."""
    return (y - x).abs().flatten(1).amax(dim=1) > 1e-4


# --- the pipe ------------------------------------------------------------------------------

def test_default_and_names():
    assert AugmentPipe().groups == ("blit", "geom", "color")
    assert PIPES["bgcfnc"][-1] == "cutout" and PIPES["cutout"] == ("cutout",)
    assert {"b", "g", "c", "f", "n", "cutout", "bg", "bgc", "bgcf", "bgcfn"} <= set(NAMES)


def test_unknown_pipe_lists_names():
    with pytest.raises(ConfigError, match="unknown ADA pipeline 'bgx'; choose from: ") as err:
        AugmentPipe("bgx")
    for name in NAMES:
        assert name in str(err.value)


def test_p_must_be_a_probability():
    a = AugmentPipe()
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ConfigError, match=r"probability p must be in \[0, 1\], got "):
            a.p = bad
    a.p = 1
    assert isinstance(a.p, float)


@pytest.mark.parametrize("name", NAMES)
def test_p_zero_is_identity(name):
    x = images()
    g = gen(0)
    state = g.get_state()
    assert pipe(name, 0.0)(x, g) is x
    assert torch.equal(g.get_state(), state)  # costs nothing: not even a draw


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_p_one_changes_and_keeps_layout(name, channels):
    x = images(c=channels)
    y = pipe(name, 1.0)(x, gen(0))
    assert y.shape == x.shape and y.dtype == x.dtype and y.device == x.device
    assert torch.isfinite(y).all()
    assert changed(x, y).float().mean() >= 0.75  # a whole batch is never all no-ops


def test_channels_last_in_channels_last_out():
    x = images().contiguous(memory_format=torch.channels_last)
    y = pipe("bgcfnc", 1.0)(x, gen(0))
    assert y.is_contiguous(memory_format=torch.channels_last)


def test_non_square_images():
    x = images(h=12, w=20)
    y = pipe("bgcfnc", 1.0)(x, gen(0))
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_alpha_untouched_by_colour():
    x = images(c=4)
    y = pipe("c", 1.0)(x, gen(0))
    assert torch.equal(y[:, 3], x[:, 3])
    assert changed(x[:, :3], y[:, :3]).all()


def test_noise_leaves_alpha_alone():
    x = images(c=4)
    y = pipe("n", 1.0)(x, gen(0))
    assert torch.equal(y[:, 3], x[:, 3])


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_output_different_seed_different(name):
    x = images(c=4)
    a = pipe(name, 0.8)
    assert torch.equal(a(x, gen(7)), a(x, gen(7)))
    assert not torch.equal(a(x, gen(7)), a(x, gen(8)))


@pytest.mark.parametrize("name", NAMES)
def test_gradient_finite_and_nonzero(name):
    x = images(n=4).requires_grad_(True)
    y = pipe(name, 1.0)(x, gen(0))
    (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_blit_only_copies_pixels():
    # Flips, quarter turns and whole-pixel shifts map pixel centres onto pixel centres, so
    # every output value is one of the input values (no blurring).
    x = images(n=6, c=1)
    y = pipe("b", 1.0)(x, gen(3))
    dist = (y.flatten(1)[:, :, None] - x.flatten(1)[:, None, :]).abs().amin(dim=2)
    assert dist.max() < 1e-5


def test_probability_per_sample():
    # Cutout is one transform: with p = 0.5 about half of 64 samples get a hole.
    x = images(n=64)
    share = changed(x, pipe("cutout", 0.5)(x, gen(1))).float().mean().item()
    assert 0.3 <= share <= 0.7
    # "b" has three transforms at p = 0.5 (a drawn flip/turn/shift can be a no-op): some
    # samples are left alone, most are not.
    share_b = changed(x, pipe("b", 0.5)(x, gen(1))).float().mean().item()
    assert 0.4 <= share_b <= 0.95
    # And p controls it: a small p leaves most samples alone.
    share_small = changed(x, pipe("b", 0.05)(x, gen(1))).float().mean().item()
    assert share_small <= 0.3


def test_grey_luma_flip_and_colour_keeps_grey_grey():
    # A grey RGB image stays grey under brightness/contrast/luma flip; hue and saturation
    # do nothing to it either, because it lies on the luma axis.
    g = images(n=16, c=1)
    y = pipe("c", 1.0)(g.expand(-1, 3, -1, -1), gen(2))
    assert (y - y.mean(dim=1, keepdim=True)).abs().max() < 1e-5
    # The one-channel path agrees with running the grey image as RGB: hue/saturation are
    # drawn but skipped for grey, so both see the same brightness, contrast and flip.
    y1 = pipe("c", 1.0)(g, gen(2))
    assert torch.allclose(y1, y[:, :1], atol=1e-5)


def test_filter_moves_every_sample_at_p_1():
    # The gains are normalised under an assumed 1/f spectrum, not this image's, so the energy
    # of this white-noise image is not kept (tests/models/test_model_fixes.py checks the
    # normalising).
    x = images(n=8, h=32, w=32)
    y = pipe("f", 1.0)(x, gen(4))
    assert torch.isfinite(y).all() and changed(x, y).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_device_independent():
    x = images(n=4, c=4)
    a = pipe("bgcfnc", 1.0)
    y_cpu = a(x, gen(5))
    y_gpu = a(x.cuda(), gen(5))
    assert y_gpu.device.type == "cuda"
    assert torch.allclose(y_cpu, y_gpu.cpu(), atol=1e-4)


# --- the controller ------------------------------------------------------------------------

def controller(**kw) -> AdaController:
    return AdaController(AugmentPipe("bgc"), **kw)


def test_controller_raises_p_when_d_is_over_confident():
    ada = controller(target=0.6, interval=4, speed_kimg=10.0, batch=8)
    step = 8 * 4 / (10.0 * 1000)
    assert ada.step == pytest.approx(step)
    for i in range(3):
        ada.update(torch.ones(8))  # r_t = 1 > 0.6
        assert ada.pipe.p == 0.0 and ada.r_t is None  # only every `interval` calls
    ada.update(torch.ones(8))
    assert ada.pipe.p == pytest.approx(step, rel=1e-12) and ada.r_t == 1.0
    for _ in range(4):
        ada.update(torch.ones(8, 1))
    assert ada.pipe.p == pytest.approx(2 * step, rel=1e-12)


def test_controller_lowers_p_and_clamps():
    ada = controller(interval=2, speed_kimg=0.01, batch=4)  # step 0.8
    ada.pipe.p = 0.5
    for _ in range(2):
        ada.update(-torch.ones(4))
    assert ada.pipe.p == 0.0 and ada.r_t == -1.0  # 0.5 - 0.8, clamped at 0
    for _ in range(2):
        ada.update(-torch.ones(4))
    assert ada.pipe.p == 0.0
    for _ in range(6):
        ada.update(torch.ones(4))
    assert ada.pipe.p == 1.0  # 0 -> 0.8 -> 1 (clamped) -> 1


def test_controller_rejects_bad_options():
    limits = "ADA interval and batch must be at least 1 and speed_kimg > 0"
    for kw, message in (({"target": 1.5}, r"ADA target must be in \[0, 1\], got 1\.5"),
                        ({"interval": 0}, limits), ({"speed_kimg": 0.0}, limits),
                        ({"batch": 0}, limits)):
        with pytest.raises(ConfigError, match=message):
            controller(**kw)


def test_controller_state_round_trip_mid_interval():
    torch.manual_seed(0)
    logits = [torch.randn(8) + 0.3 for _ in range(23)]
    ref = controller(interval=4, speed_kimg=0.1, batch=8)
    for t in logits:
        ref.update(t)

    first = controller(interval=4, speed_kimg=0.1, batch=8)
    for t in logits[:10]:  # stop mid-interval: 2 calls into the third interval
        first.update(t)
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    assert state["calls"] == 2 and state["count"] == 16
    resumed = controller(interval=4, speed_kimg=0.1, batch=8)
    resumed.load_state_dict(state)
    for t in logits[10:]:
        resumed.update(t)
    assert resumed.pipe.p == ref.pipe.p and resumed.r_t == ref.r_t
    assert resumed.state_dict()["calls"] == ref.state_dict()["calls"]
    assert torch.equal(resumed.state_dict()["sum"], ref.state_dict()["sum"])


class AllReduce:
    """A sum over `n` threads standing for processes, as torch.distributed.all_reduce
    meets them: each waits for the others' values."""

    def __init__(self, n: int):
        self.barrier, self.slots = threading.Barrier(n), [None] * n

    def total(self, rank: int):
        def reduce(x):
            self.slots[rank] = x.clone()
            self.barrier.wait()
            out = sum(self.slots)
            self.barrier.wait()
            return out
        return reduce


def as_processes(n: int, work) -> list:
    """work(rank) in n threads at once; their results in rank order."""
    out = [None] * n
    threads = [threading.Thread(target=lambda r=r: out.__setitem__(r, work(r)))
               for r in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_a_two_process_resume_mid_interval_counts_the_partial_sums_once():
    """Two processes whose reals differ, stopped mid-interval and resumed: the state holds the
    all-process sums, only the first process takes them, and the next adjustment sees the
    r_t of an uninterrupted run (loading one process's own sums into both counted it twice)."""
    torch.manual_seed(2)
    logits = [[torch.randn(8) + (0.8 if rank else -0.2) for rank in range(2)] for _ in range(8)]

    def controllers():
        reduce = AllReduce(2)
        return [controller(interval=4, speed_kimg=0.1, batch=16, total=reduce.total(r))
                for r in range(2)]

    def steps(ctrls, rank, span):
        for k in span:
            ctrls[rank].update(logits[k][rank])
        return ctrls[rank]

    whole = controllers()
    as_processes(2, lambda r: steps(whole, r, range(8)))
    part = controllers()
    state = as_processes(2, lambda r: steps(part, r, range(6)).state_dict())[0]
    assert state["calls"] == 2 and state["count"] == 2 * 2 * 8
    resumed = controllers()
    for rank, c in enumerate(resumed):
        c.load_state_dict(state, first=rank == 0)
    assert resumed[1].count == 0 and float(resumed[1].sum) == 0.0
    as_processes(2, lambda r: steps(resumed, r, range(6, 8)))
    assert [c.r_t for c in resumed] == [c.r_t for c in whole]
    assert [c.pipe.p for c in resumed] == [c.pipe.p for c in whole]


def test_p_rises_steadily_for_confident_logits():
    # Logits ~ N(2, 1): E[sign] = 2 * Phi(2) - 1 ~ 0.95 > 0.6, so p climbs every interval.
    torch.manual_seed(1)
    ada = controller(interval=4, speed_kimg=1.0, batch=16)
    ps = []
    for _ in range(10):
        for _ in range(4):
            ada.update(torch.randn(16) + 2)
        ps.append(ada.pipe.p)
    assert all(b > a for a, b in zip(ps, ps[1:]))


def test_memorising_d_drives_p_up_then_settles():
    # The paper's claim in miniature: a tiny D fits a training set of 4 images against
    # fakes, grows over-confident on the reals (r_t ~ 1 > 0.6), and the controller answers by
    # raising p every interval. The reals are bright and the fakes dark, so a linear D judges
    # by brightness; bgc's luma flip darkens p/2 of the reals, so r_t ~ 1 - p and p should
    # settle near 0.4 instead of running to 1.
    torch.manual_seed(2)
    reals = images(n=4, c=1, h=8, w=8, seed=9) * 0.5 + 0.4  # in [-0.1, 0.9]
    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 1))
    opt = torch.optim.Adam(D.parameters(), lr=1e-2)
    aug = AugmentPipe("bgc")
    ada = AdaController(aug, target=0.6, interval=8, speed_kimg=4.0, batch=32)  # step 0.064
    aug_gen, data_gen = gen(0), gen(1)

    def d_step() -> torch.Tensor:
        x = reals[torch.randint(0, 4, (32,), generator=data_gen)]
        fakes = torch.rand(32, 1, 8, 8, generator=data_gen) - 0.9  # in [-0.9, 0.1]
        d_real, d_fake = D(aug(x, aug_gen)), D(aug(fakes, aug_gen))
        loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return d_real.detach()

    for _ in range(20):  # D memorises first, with p = 0
        d_step()
    ps, rs = [], []
    for _ in range(25):
        for _ in range(8):
            ada.update(d_step())
        ps.append(aug.p)
        rs.append(ada.r_t)
    assert rs[0] > 0.9  # over-confident on the reals
    assert all(b > a for a, b in zip(ps[:5], ps[1:5]))  # p climbs while r_t > target
    assert all(0.2 <= p <= 0.7 for p in ps[10:])  # and then holds r_t near the target
