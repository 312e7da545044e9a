"""StyleGAN2's generator and discriminator: shapes, determinism, truncation, style mixing, noise,
w_avg, path length regularisation, gradients, minibatch std and the building blocks."""

from __future__ import annotations

import math

import pytest
import torch

import ganvas.models.stylegan2_layers as L
from ganvas.checkpoint import load_module, save_module
from ganvas.config.schema import ModelConfig
from ganvas.models import MODELS, build_discriminator, build_generator
from ganvas.models.layers import freeze_blocks


def cfg_for(**kw) -> ModelConfig:
    """A tiny StyleGAN2 (32 px, widths 8..32): about 50k parameters per network."""
    base = dict(family="stylegan2", resolution=32, channels=3, z_dim=32, w_dim=32,
                mapping_layers=2, g_width=8, d_width=16, max_width=32)
    return ModelConfig(**{**base, **kw})


def models(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = cfg_for(**kw)
    return cfg, build_generator(cfg), build_discriminator(cfg)


def set_noise_strength(G, value: float) -> None:
    """Noise strengths start at 0 (noise has no effect); give them some for the noise tests."""
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(value)


def test_registered_with_its_resolutions():
    assert MODELS.get("stylegan2").resolutions == (32, 1024)


@pytest.mark.parametrize("channels,num_classes", [(1, 0), (3, 0), (4, 0), (3, 5)])
def test_shapes_and_dtypes(channels, num_classes):
    cfg, G, D = models(channels=channels, num_classes=num_classes)
    y = torch.arange(3) % num_classes if num_classes else None
    x = G(torch.randn(3, cfg.z_dim), y)
    assert x.shape == (3, channels, 32, 32) and x.dtype == torch.float32
    assert torch.isfinite(x).all()
    out = D(x, y)
    assert out.shape == (3,) and out.dtype == torch.float32 and torch.isfinite(out).all()
    ws = G.mapping(torch.randn(2, cfg.z_dim), None if y is None else y[:2])
    assert G.num_ws == 8 and ws.shape == (2, 8, cfg.w_dim)        # 2 log2(32) - 2
    assert G.synthesis(ws).shape == (2, channels, 32, 32)


def test_widths_follow_the_config():
    cfg, G, D = models(g_width=8, d_width=16, max_width=32)
    # G: 8 at 32 px, doubling per halving, capped at 32 -> 32, 32, 16, 8 for 4..32 px.
    assert [b.torgb.weight.shape[1] for b in G.synthesis.blocks] == [32, 32, 16, 8]
    # D: 16 at 32 px -> blocks 32->16, 16->8, 8->4 px with 16, 32, 32 channels in.
    assert [b.conv0.weight.shape[0] for b in D.blocks] == [16, 32, 32]
    assert D.blocks[0].fromrgb is not None and D.blocks[1].fromrgb is None


def test_conditional_models_use_and_need_the_label():
    cfg, G, D = models(num_classes=3)
    G.eval()
    z = torch.randn(1, cfg.z_dim).repeat(2, 1)
    x = G(z, torch.tensor([0, 1]))
    assert not torch.allclose(x[0], x[1])
    assert not torch.allclose(*D(x[:1].repeat(2, 1, 1, 1), torch.tensor([0, 2])).unbind())
    with pytest.raises(ValueError, match="conditional"):
        G(z)
    with pytest.raises(ValueError, match="conditional"):
        D(x)


def test_save_load_gives_identical_outputs(tmp_path):
    cfg, G, D = models(num_classes=2)
    y = torch.tensor([0, 1, 1, 0])
    G(torch.randn(4, cfg.z_dim), y)                # moves w_avg off zero (a saved buffer)
    z, x = torch.randn(4, cfg.z_dim), torch.randn(4, 3, 32, 32)
    for net, build, inp in ((G, build_generator, z), (D, build_discriminator, x)):
        save_module(net, tmp_path / "net.safetensors")
        torch.manual_seed(99)                      # other random weights and noise buffers
        net2 = load_module(build(cfg), tmp_path / "net.safetensors")
        assert torch.equal(net.eval()(inp, y), net2.eval()(inp, y))
        if net is G:
            assert torch.equal(net2.w_avg, G.w_avg) and G.w_avg.abs().sum() > 0


def test_seeded_construction_and_eval_output_are_deterministic():
    _, G1, D1 = models(seed=5)
    _, G2, D2 = models(seed=5)
    for a, b in ((G1, G2), (D1, D2)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    z = torch.randn(2, 32)
    G1.eval(), G2.eval()
    torch.manual_seed(1)
    x1 = G1(z)
    torch.manual_seed(2)                           # eval mode draws nothing from the RNG
    assert torch.equal(x1, G2(z)) and torch.equal(x1, G1(z))


def test_truncation_psi_zero_gives_the_average_image():
    cfg, G, _ = models()
    G.mapping(torch.randn(16, cfg.z_dim), update_w_avg=True)   # a non-zero w_avg
    G.eval()
    x = G(torch.randn(4, cfg.z_dim), truncation_psi=0.0, noise_mode="const")
    for i in range(1, 4):
        assert torch.allclose(x[0], x[i], atol=1e-6)
    ws = G.mapping(torch.randn(3, cfg.z_dim), truncation_psi=0.0)
    assert torch.equal(ws, G.w_avg.expand(3, G.num_ws, -1))


def test_truncation_cutoff_and_negative_psi():
    cfg, G, _ = models()
    with torch.no_grad():
        G.mapping.w_avg.normal_()
    z = torch.randn(3, cfg.z_dim)
    full = G.mapping(z)
    for psi in (0.5, -0.7):
        ws = G.mapping(z, truncation_psi=psi, truncation_cutoff=3)
        assert torch.equal(ws[:, 3:], full[:, 3:])             # later ws untouched
        expect = G.w_avg + psi * (full[:, :3] - G.w_avg)
        assert torch.allclose(ws[:, :3], expect, atol=1e-6)
    assert torch.allclose(G.mapping(z, truncation_psi=0.5),
                          G.mapping(z, truncation_psi=0.5, truncation_cutoff=G.num_ws))


def test_style_mixing_in_synthesis_swaps_the_intended_layers():
    cfg, G, _ = models()
    G.eval()
    torch.manual_seed(0)
    ws_a, ws_b = G.mapping(torch.randn(2, cfg.z_dim)).chunk(2)
    img_a, img_b = G.synthesis(ws_a), G.synthesis(ws_b)

    def mixed(k):                                  # ws of A for layers < k, of B afterwards
        return G.synthesis(torch.cat([ws_a[:, :k], ws_b[:, k:]], dim=1))

    assert torch.equal(mixed(G.num_ws), img_a) and torch.equal(mixed(0), img_b)
    fine = mixed(G.num_ws - 1)                     # only the last toRGB's style from B
    d_a, d_b = (fine - img_a).abs().mean(), (fine - img_b).abs().mean()
    assert d_a > 1e-4 and d_b > 1e-4 and d_a < d_b
    # Each w reaches the output: changing any single one changes the image.
    for i in range(G.num_ws):
        ws = ws_a.clone()
        ws[:, i] = ws_b[:, i]
        assert not torch.allclose(G.synthesis(ws), img_a)


def test_training_mode_style_mixing_draws_a_cutoff():
    cfg, G, _ = models()
    z = torch.randn(2, cfg.z_dim)
    ws = G.mapping(z)
    G.mixing_prob = 1.0
    cutoffs = set()
    for seed in range(6):
        torch.manual_seed(seed)
        mixed = G.mix_styles(ws, z)
        same = [torch.equal(mixed[:, i], ws[:, i]) for i in range(G.num_ws)]
        k = same.index(False)
        assert 1 <= k < G.num_ws and not any(same[k:])           # A before k, B from k on
        cutoffs.add(k)
    assert len(cutoffs) > 1
    G.mixing_prob = 0.0
    rng = torch.get_rng_state()
    assert G.mix_styles(ws, z) is ws and torch.equal(torch.get_rng_state(), rng)


def test_noise_modes():
    cfg, G, _ = models()
    set_noise_strength(G, 0.3)
    G.eval()
    ws = G.mapping(torch.randn(2, cfg.z_dim))
    for mode in ("none", "const"):
        assert torch.equal(G.synthesis(ws, noise_mode=mode), G.synthesis(ws, noise_mode=mode))
    assert not torch.allclose(G.synthesis(ws, "random"), G.synthesis(ws, "random"))
    assert not torch.allclose(G.synthesis(ws, "none"), G.synthesis(ws, "const"))
    z = torch.randn(2, cfg.z_dim)
    assert torch.equal(G(z), G.synthesis(G.mapping(z), "const"))     # eval default: const
    G.train()
    G.mixing_prob = 0.0
    assert not torch.allclose(G(z), G(z))                            # train default: random
    with pytest.raises(ValueError, match="noise mode"):
        G.synthesis(ws, noise_mode="loud")


def test_w_avg_moves_only_when_asked_in_training():
    cfg, G, _ = models()
    z = torch.randn(8, cfg.z_dim)
    G.mapping(z)
    assert torch.equal(G.w_avg, torch.zeros(cfg.w_dim))
    w = G.mapping(z, update_w_avg=True)[:, 0]
    assert torch.allclose(G.w_avg, 0.005 * w.mean(0), atol=1e-6)   # lerp(0, mean w, 1 - 0.995)
    before = G.w_avg.clone()
    G.eval()
    G.mapping(z, update_w_avg=True)
    G(z)
    assert torch.equal(G.w_avg, before)
    G.train()
    G(z)                                                            # training forward updates
    assert not torch.equal(G.w_avg, before)


def test_path_length_penalty():
    cfg, G, _ = models()
    pl = G.path_length_penalty(torch.randn(4, cfg.z_dim))
    assert pl.ndim == 0 and torch.isfinite(pl)
    assert G.pl_mean > 0                                            # EMA moved off 0
    pl_mean = G.pl_mean.clone()
    pl.backward()
    grads = {n: p.grad for n, p in G.named_parameters()}
    for name in ("mapping.layers.0.weight", "synthesis.blocks.1.conv0.weight",
                 "synthesis.blocks.1.conv0.affine.weight"):
        assert grads[name] is not None and torch.isfinite(grads[name]).all(), name
        assert grads[name].abs().sum() > 0, name
    G.path_length_penalty(torch.randn(4, cfg.z_dim))
    assert not torch.equal(G.pl_mean, pl_mean)


@pytest.mark.parametrize("num_classes", [0, 3])
def test_gradients_reach_every_parameter_and_are_finite(num_classes):
    cfg, G, D = models(num_classes=num_classes)
    y = torch.arange(4) % num_classes if num_classes else None
    G.mixing_prob = 0.5
    D(G(torch.randn(4, cfg.z_dim), y), y).mean().backward()        # training: random noise
    for net in (G, D):
        for name, p in net.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
            assert p.grad.abs().sum() > 0, name
    assert any(n.endswith("noise_strength") for n, _ in G.named_parameters())


def test_minibatch_std_with_batch_6_and_group_4():
    assert [L.group_size(n, 4) for n in (1, 3, 4, 5, 6, 8, 12)] == [1, 3, 4, 1, 3, 4, 4]
    x = torch.randn(6, 5, 4, 4)
    out = L.MinibatchStd(4)(x)
    assert out.shape == (6, 6, 4, 4) and torch.equal(out[:, :5], x)
    # Group size 3: samples i and i + 2 and i + 4 form group i mod 2.
    expect = x[0::2].std(dim=0, unbiased=False).mean()
    assert torch.allclose(out[0, 5], expect.expand(4, 4), atol=1e-5)
    assert torch.allclose(out[4, 5], out[0, 5]) and not torch.allclose(out[1, 5], out[0, 5])
    cfg, _, D = models(mbstd_group=4)
    assert D(torch.randn(6, 3, 32, 32)).shape == (6,)


def test_discriminator_blocks_and_freezing():
    _, _, D = models()
    assert isinstance(D.blocks, torch.nn.ModuleList) and len(D.blocks) == 3   # 32, 16, 8 px
    freeze_blocks(D, 1)
    assert not any(p.requires_grad for p in D.blocks[0].parameters())
    assert all(p.requires_grad for p in D.blocks[1].parameters())


@pytest.mark.parametrize("up", [False, True])
@pytest.mark.parametrize("demodulate", [False, True])
def test_fused_and_unfused_modulated_convolutions_agree(up, demodulate):
    x, w, s = torch.randn(3, 4, 8, 8), torch.randn(5, 4, 3, 3), torch.randn(3, 4)
    f = L.lowpass_filter()
    fused = L.modulated_conv2d(x, w, s, demodulate, up, f, fused=True)
    assert fused.shape == (3, 5, 16 if up else 8, 16 if up else 8)
    assert torch.allclose(fused, L.modulated_conv2d(x, w, s, demodulate, up, f, fused=False),
                          atol=1e-5)
    # Reference for one sample: weight scaled by its style, normalised per output channel.
    wi = w * s[0][None, :, None, None]
    if demodulate:
        wi = wi / wi.square().sum(dim=(1, 2, 3), keepdim=True).sqrt()
    xi = L.upsample2d(x[:1], f) if up else x[:1]
    ref = torch.nn.functional.conv2d(xi, wi, padding=1)
    inner = (slice(None),) * 2 + (slice(2, -2),) * 2     # borders differ by zero padding
    assert torch.allclose(fused[:1][inner], ref[inner], atol=1e-5)


def test_demodulation_is_the_norm_of_each_modulated_weight_in_float32():
    """The matrix-product form matches the (N, Cout, Cin, k, k) definition, also under
    bfloat16 autocast (where a plain matmul would round the sums to bfloat16)."""
    w, s = torch.randn(6, 5, 3, 3), torch.randn(4, 5) * 3
    reference = (w[None] * s[:, None, :, None, None]).square().sum(dim=(2, 3, 4)).rsqrt()
    assert torch.allclose(L.demodulation(w, s), reference, rtol=1e-6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        d = L.demodulation(w, s)
    assert d.dtype == torch.float32
    assert torch.allclose(d, reference, rtol=1e-6)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("activation", ["lrelu", "linear"])
def test_in_place_bias_act_matches_its_definition_with_double_backward(bias, activation):
    """bias_act reorders its in-place steps; values, gradients and the gradient of a gradient
    norm (R1) match x + b -> activation -> times gain -> clamp, clamped values included."""
    def definition(x, b):
        y = x if b is None else x + b.reshape(1, -1, 1, 1)
        gain = 0.7 * (math.sqrt(2) if activation == "lrelu" else 1)
        y = torch.nn.functional.leaky_relu(y, 0.2) if activation == "lrelu" else y
        return (y * gain).clamp(-3.0, 3.0)

    torch.manual_seed(0)
    x = (torch.randn(3, 4, 5, 5) * 4).requires_grad_(True)
    b = torch.randn(4, requires_grad=True) if bias else None
    ys = [fn(x * 1, b) for fn in (definition,
                                  lambda x, b: L.bias_act(x, b, activation, 0.7, clamp=3.0))]
    weights = torch.randn_like(ys[0])
    results = []
    for y in ys:
        (gx,) = torch.autograd.grad((y * weights).sum(), x, create_graph=True)
        inputs = [x] + ([b] if bias else [])
        second = (torch.autograd.grad(gx.square().sum(), inputs, allow_unused=True)
                  if gx.requires_grad else [])        # a linear map's gradient is constant
        results.append([y, gx, *second])
    assert (ys[0].abs() == 3.0).any() and (ys[0] < 0).any()       # clamped and negative
    for a, c in zip(*results):
        assert (a is None and c is None) or torch.allclose(a, c, rtol=1e-5, atol=1e-6)


def test_resampling_keeps_constants_and_alignment():
    f = L.lowpass_filter()
    assert torch.isclose(f.sum(), torch.tensor(1.0))
    ramp = torch.arange(16.0).repeat(16, 1)[None, None]            # (1, 1, 16, 16)
    up = L.upsample2d(ramp, f)
    assert up.shape == (1, 1, 32, 32)
    assert torch.allclose(L.downsample2d(up, f)[..., 4:-4, 4:-4], ramp[..., 4:-4, 4:-4])
    assert torch.allclose(L.downsample2d(torch.ones(1, 2, 8, 8), f)[..., 1:-1, 1:-1],
                          torch.ones(1, 2, 2, 2))


@pytest.mark.parametrize("pad", [1, 2])
def test_blur_pads_with_zeros_like_an_explicit_pad(pad):
    """The convolution's own padding is the zero padding the filter is defined with."""
    x = torch.randn(2, 3, 9, 9)
    f = L.lowpass_filter()
    w = f[None, None].repeat(3, 1, 1, 1) * 2.0
    expected = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (pad,) * 4), w, groups=3)
    assert torch.allclose(L.blur(x, f, pad, gain=2.0), expected, atol=1e-6)


def test_float32_blocks_leave_bfloat16_inputs_alone():
    """Under bfloat16 autocast a float32 block takes x as it comes (a float32 copy would be
    cast back by every convolution); float16 still becomes float32. The skip image stays
    float32."""
    xb = torch.randn(2, 4, 8, 8).bfloat16()
    assert L.block_input(xb, use_fp16=False) is xb
    assert L.block_input(xb.half(), use_fp16=False).dtype == torch.float32
    cfg, G, D = models()
    seen = []
    D.blocks[1].conv0.register_forward_pre_hook(lambda m, inp: seen.append(inp[0].dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        D(G(torch.randn(2, cfg.z_dim)))
        up = L.upsample2d(torch.randn(2, 3, 4, 4), L.lowpass_filter())
    assert seen == [torch.bfloat16]
    assert up.dtype == torch.float32           # G's skip image is upsampled in float32


def test_float16_blocks_cast_in_and_out(monkeypatch):
    """CUDA-only float16 blocks, run on CPU by pretending the device is CUDA."""
    monkeypatch.setattr(L, "compute_dtype",
                        lambda use_fp16, device: torch.float16 if use_fp16 else torch.float32)
    cfg, G, D = models(num_fp16_res=2, conv_clamp=256.0)
    assert [b.use_fp16 for b in G.synthesis.blocks] == [False, False, True, True]
    assert [b.use_fp16 for b in D.blocks] == [True, True, False]
    x = G(torch.randn(2, cfg.z_dim))
    out = D(x)
    assert x.dtype == out.dtype == torch.float32
    assert torch.isfinite(x).all() and torch.isfinite(out).all()
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in G.parameters())


def test_initial_scale_is_sane():
    """Unit-variance activations by construction: the initial image is about unit scale."""
    cfg, G, _ = models()
    x = G.eval()(torch.randn(8, cfg.z_dim))
    assert 0.3 < x.std() < 3 and math.isfinite(x.abs().max().item())
