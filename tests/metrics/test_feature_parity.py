"""The standard extractors against torch-fidelity, on shared random weights (offline).

A randomly initialised Inception-v3 (and VGG-16) state dict is saved to a file, loaded into both
ganvas and torch-fidelity, and their features and FID / KID / IS must agree to 1e-4 relative.
With the published weights the same code gives the published numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganvas.metrics import evaluate as ev
from ganvas.metrics.extractors import EXTRACTORS
from ganvas.metrics.inception import random_state, tf1_resize

fidelity = pytest.importorskip("torch_fidelity")
pytestmark = pytest.mark.slow
REL = 1e-4


def random_inception_state(seed: int = 1) -> dict:
    """inception.random_state with larger pool3 features: KID well above float32 rounding."""
    state = random_state(seed)
    for key in state:
        if key.startswith("Mixed_7c") and key.endswith(("bn.weight", "bn.bias")):
            state[key] = 4 * state[key]
    return state


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "inception-random.pth"
    torch.save(random_inception_state(), path)
    return path


def pictures(n: int, seed: int, size: int = 32) -> np.ndarray:
    """uint8 (n, size, size, 3): smooth random blobs, more like images than pure noise."""
    gen = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 4, 4, generator=gen)
    x = torch.nn.functional.interpolate(low, size=size, mode="bicubic", align_corners=False)
    x = x + 0.1 * torch.rand(n, 3, size, size, generator=gen)
    return (x.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()


def noise(n: int, seed: int, size: int = 32) -> np.ndarray:
    """uint8 (n, size, size, 3) uniform noise: a distribution far from `pictures`, so KID is
    far above the float32 rounding of torch-fidelity's kernel sums (near 0 that rounding
    alone would be a relative error of 1e-2)."""
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def rel_err(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def fidelity_inception(path):
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    return FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                       feature_extractor_weights_path=str(path))


def nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()


def test_tf1_resize_matches_torch_fidelity():
    from torch_fidelity.interpolate_compat_tensorflow import (
        interpolate_bilinear_2d_like_tensorflow1x)
    x = nchw(pictures(2, 0, size=37)).float()
    for size in (299, 224, 20):
        ref = interpolate_bilinear_2d_like_tensorflow1x(x, size=(size, size), align_corners=False)
        assert rel_err(tf1_resize(x, size), ref) < 1e-6


def test_inception_features_fid_kid_is_agree_with_torch_fidelity(inception_file):
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_isc import isc_features_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric

    reals, fakes = pictures(16, 1), noise(16, 2)
    ours = EXTRACTORS.get("inception-v3")(weights=str(inception_file))
    assert ours.weights["official"] is False
    theirs = fidelity_inception(inception_file)
    with torch.no_grad():
        ref = {name: theirs(nchw(x)) for name, x in (("real", reals), ("fake", fakes))}
    out = {name: ours.extract(x, batch=10) for name, x in (("real", reals), ("fake", fakes))}
    for side in ("real", "fake"):
        assert rel_err(out[side]["features"], ref[side][0]) < REL
        assert rel_err(out[side]["logits"], ref[side][1]) < REL
        assert out[side]["features"].std() > 0.01          # not a degenerate network

    ref_fid = fid_statistics_to_metric(fid_features_to_statistics(ref["fake"][0]),
                                       fid_features_to_statistics(ref["real"][0]),
                                       verbose=False)["frechet_inception_distance"]
    ref_kid = kid_features_to_metric(ref["fake"][0], ref["real"][0], kid_subset_size=16,
                                     kid_subsets=10, verbose=False)
    ref_is = isc_features_to_metric(ref["fake"][1], splits=4)
    fid = ev.fid(out["real"]["features"], out["fake"]["features"])["fid"]
    from ganvas.metrics.distances import inception_score, kernel_inception_distance
    kid_mean, _ = kernel_inception_distance(out["fake"]["features"], out["real"]["features"],
                                            num_subsets=10, subset_size=16, seed=2020)
    is_mean, _ = inception_score(out["fake"]["logits"], splits=4, probs=False, seed=2020)
    assert fid > 0 and rel_err(fid, ref_fid) < REL
    assert rel_err(kid_mean, ref_kid["kernel_inception_distance_mean"]) < REL
    assert rel_err(is_mean, ref_is["inception_score_mean"]) < REL


@pytest.mark.parametrize("num_reals,num_fakes", [(16, 16), (12, 20)])
def test_measure_agrees_with_torch_fidelity_end_to_end(inception_file, num_reals, num_fakes):
    """ganvas's whole path (measure) against torch_fidelity.calculate_metrics on datasets,
    also with more fakes than reals (KID's subsets then have the smaller set's size)."""

    class Images(torch.utils.data.Dataset):
        def __init__(self, images):
            self.x = nchw(images)

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i]

    reals, fakes = pictures(num_reals, 3), noise(num_fakes, 4)
    ref = fidelity.calculate_metrics(
        input1=Images(fakes), input2=Images(reals), fid=True, kid=True, isc=True, cuda=False,
        cache=False, verbose=False, kid_subset_size=min(num_reals, num_fakes), isc_splits=10,
        feature_extractor_weights_path=str(inception_file))
    plan = ev.extractor_plan(["fid", "kid", "is"], None)
    extractors = ev.build_extractors(plan, {None: str(inception_file)})
    got = ev.measure(["fid", "kid", "is"], reals, fakes, extractors, plan)["metrics"]
    assert rel_err(got["fid"], ref["frechet_inception_distance"]) < REL
    assert rel_err(got["kid"], ref["kernel_inception_distance_mean"]) < REL
    assert rel_err(got["is"], ref["inception_score_mean"]) < REL


def test_vgg16_features_agree_with_torch_fidelity(tmp_path):
    import torchvision
    from torch_fidelity.feature_extractor_vgg16 import FeatureExtractorVGG16
    torch.manual_seed(0)
    path = tmp_path / "vgg16-random.pth"
    torch.save(torchvision.models.vgg16(weights=None).state_dict(), path)
    images = pictures(4, 5)
    ours = EXTRACTORS.get("vgg16")(weights=str(path)).features(images)
    theirs = FeatureExtractorVGG16("vgg16-fc2", ["fc2_relu"],
                                   feature_extractor_weights_path=str(path))
    with torch.no_grad():
        ref = theirs(nchw(images))[0]
    assert ours.shape == (4, 4096) and (ours > 0).any()
    assert rel_err(ours, ref) < REL
