"""Small pickles in the layouts of NVlabs' files, written by the tests themselves.

NVlabs' persistence pickles each network as a call of
`torch_utils.persistence._reconstruct_persistent_obj(meta)`; EasyDicts and TensorFlow networks
are instances of `dnnlib.util.EasyDict` and `dnnlib.tflib.network.Network`. Stand-ins for
those names are put in sys.modules only while DUMPING (pickle checks that a global it writes
can be found); the reader under test never sees them.
"""

from __future__ import annotations

import collections
import contextlib
import pickle
import sys
import types

import numpy as np
import torch

SG2ADA_SRC = """class Generator(torch.nn.Module):
    def __init__(self, z_dim, c_dim, w_dim, img_resolution, img_channels,
        mapping_kwargs      = {},
        synthesis_kwargs    = {},
    ):
        super().__init__()
        self.synthesis = SynthesisNetwork(**synthesis_kwargs)
"""
SG3_SG2_SRC = SG2ADA_SRC.replace("synthesis_kwargs    = {},", "**synthesis_kwargs,")
SG3_SRC = "class SynthesisInput(torch.nn.Module):\n    pass\n" + SG3_SG2_SRC


def _reconstruct_persistent_obj(meta):   # never called: only its name is written
    raise AssertionError("a test stand-in was called")


class EasyDict(dict):
    pass


class Network:
    def __init__(self, state):
        self._state = state

    def __getstate__(self):
        return self._state


_STANDINS = {
    "torch_utils.persistence": {"_reconstruct_persistent_obj": _reconstruct_persistent_obj},
    "dnnlib.util": {"EasyDict": EasyDict},
    "dnnlib.tflib.network": {"Network": Network},
}


@contextlib.contextmanager
def _standins():
    names = ["torch_utils", "dnnlib", "dnnlib.tflib", *_STANDINS]
    saved = {name: sys.modules.get(name) for name in names}
    for name in names:
        sys.modules[name] = types.ModuleType(name)
    for module, members in _STANDINS.items():
        for attr, obj in members.items():
            obj.__module__, obj.__qualname__ = module, attr
            setattr(sys.modules[module], attr, obj)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old


def dumps(obj) -> bytes:
    with _standins():
        return pickle.dumps(obj, protocol=4)


class Persistent:
    """Pickles as NVlabs' persistence does: `_reconstruct_persistent_obj(meta)`."""

    def __init__(self, class_name, src, params=None, buffers=None, modules=None,
                 kwargs=None, hidden=()):
        self.meta = dict(type="class", version=6, module_src=src, class_name=class_name, state={
            "training": False,
            "_parameters": collections.OrderedDict(
                (k, torch.nn.Parameter(v, requires_grad=False)) for k, v in (params or {}).items()),
            "_buffers": collections.OrderedDict(buffers or {}),
            "_non_persistent_buffers_set": set(hidden),
            "_modules": collections.OrderedDict(modules or {}),
            "_init_args": (),
            "_init_kwargs": EasyDict(kwargs or {}),
        })

    def __reduce__(self):
        return (_reconstruct_persistent_obj, (self.meta,))


def generator(src=SG2ADA_SRC, kwargs=None, class_name="Generator"):
    mapping = Persistent("MappingNetwork", src, params={"fc0.weight": torch.randn(8, 4)},
                         buffers={"w_avg": torch.randn(8), "scratch": torch.zeros(2)},
                         hidden={"scratch"})
    kwargs = kwargs if kwargs is not None else {
        "z_dim": 4, "c_dim": 0, "w_dim": 8, "img_resolution": 16, "img_channels": 3,
        "mapping_kwargs": EasyDict(num_layers=1),
        "synthesis_kwargs": EasyDict(channel_base=256, channel_max=8)}
    return Persistent(class_name, src, params={"const": torch.randn(8, 4, 4)},
                      modules={"mapping": mapping}, kwargs=kwargs)


def snapshot(src=SG2ADA_SRC, kwargs=None, p=0.25, **replace) -> bytes:
    """A training snapshot in stylegan2-ada-pytorch's / stylegan3's layout."""
    data = {
        "training_set_kwargs": EasyDict(resolution=16, use_labels=False),
        "G": generator(src, kwargs), "G_ema": generator(src, kwargs),
        "D": Persistent("Discriminator", src, params={"b16.fromrgb.weight":
                                                      torch.randn(8, 3, 1, 1)},
                        kwargs={"c_dim": 0, "img_resolution": 16}),
        "augment_pipe": None if p is None else Persistent(
            "AugmentPipe", "class AugmentPipe: pass", buffers={"p": torch.tensor(p)},
            kwargs={"xflip": 1}),
    }
    data.update(replace)
    return dumps(data)


def tf_network(name, kwargs, variables, components=None, version=4):
    """Arrays of floats, integers or objects keep their dtype; anything else becomes float32."""
    return Network({"version": version, "name": name, "static_kwargs": kwargs,
                    "components": components or {}, "build_module_src": "def G(): pass",
                    "build_func_name": f"{name}_main",
                    "variables": [(k, v if isinstance(v, np.ndarray) and v.dtype.kind in "fOi"
                                   else np.asarray(v, dtype=np.float32))
                                  for k, v in variables.items()]})


def tf_snapshot(version=4, g_kwargs=None) -> bytes:
    g_kwargs = g_kwargs if g_kwargs is not None else {"latent_size": 4, "resolution": 16}

    def gen():
        mapping = tf_network("G_mapping", {}, {"Dense0/weight": np.ones((4, 8))})
        return tf_network("G", g_kwargs, {"dlatent_avg": np.arange(8)},
                          {"mapping": mapping}, version)
    D = tf_network("D", {"resolution": 16}, {"Output/bias": np.ones(1)}, version=version)
    return dumps((gen(), D, gen()))


# A complete TensorFlow StyleGAN2 (config F layout) of 8x8 pixels: z 4, w 6, 8 channels
# everywhere, 2 mapping layers; G's variables split into its mapping and synthesis components
# as TensorFlow's G_main keeps them.
TF_G_KWARGS = {"latent_size": 4, "dlatent_size": 6, "resolution": 8, "fmap_base": 64,
               "fmap_max": 8, "mapping_layers": 2, "truncation_psi": 0.5}
TF_D_KWARGS = {"resolution": 8, "fmap_base": 64, "fmap_max": 8, "mbstd_group_size": 2}


def tf_stylegan2_variables(seed=0) -> tuple[dict, dict]:
    """(G's, D's) variables with full names, random values that are not initial ones."""
    rng = np.random.default_rng(seed)

    def r(*shape):
        return rng.standard_normal(shape).astype(np.float32)
    g = {"dlatent_avg": r(6), "lod": np.zeros((), np.float32),
         "mapping/Dense0/weight": r(4, 6), "mapping/Dense0/bias": r(6),
         "mapping/Dense1/weight": r(6, 6), "mapping/Dense1/bias": r(6),
         "synthesis/4x4/Const/const": r(1, 8, 4, 4),
         "synthesis/noise0": r(1, 1, 4, 4), "synthesis/noise1": r(1, 1, 8, 8),
         "synthesis/noise2": r(1, 1, 8, 8)}
    for layer, (cin, kernel) in {"4x4/Conv": (8, 3), "4x4/ToRGB": (8, 1),
                                 "8x8/Conv0_up": (8, 3), "8x8/Conv1": (8, 3),
                                 "8x8/ToRGB": (8, 1)}.items():
        cout = 3 if "ToRGB" in layer else 8
        g[f"synthesis/{layer}/weight"] = r(kernel, kernel, cin, cout)
        g[f"synthesis/{layer}/bias"] = r(cout)
        g[f"synthesis/{layer}/mod_weight"] = r(6, cin)
        g[f"synthesis/{layer}/mod_bias"] = r(cin)
        if "ToRGB" not in layer:
            g[f"synthesis/{layer}/noise_strength"] = r()
    d = {"8x8/FromRGB/weight": r(1, 1, 3, 8), "8x8/FromRGB/bias": r(8),
         "8x8/Conv0/weight": r(3, 3, 8, 8), "8x8/Conv0/bias": r(8),
         "8x8/Conv1_down/weight": r(3, 3, 8, 8), "8x8/Conv1_down/bias": r(8),
         "8x8/Skip/weight": r(1, 1, 8, 8),
         "4x4/Conv/weight": r(3, 3, 9, 8), "4x4/Conv/bias": r(8),
         "4x4/Dense0/weight": r(128, 8), "4x4/Dense0/bias": r(8),
         "Output/weight": r(8, 1), "Output/bias": r(1)}
    return g, d


def tf_stylegan2(g_vars=None, d_vars=None, g_kwargs=None, d_kwargs=None) -> bytes:
    """The pickle (G, D, Gs) of TensorFlow StyleGAN2, by default of tf_stylegan2_variables()."""
    if g_vars is None or d_vars is None:
        g_default, d_default = tf_stylegan2_variables()
        g_vars = g_default if g_vars is None else g_vars
        d_vars = d_default if d_vars is None else d_vars
    g_kwargs = TF_G_KWARGS if g_kwargs is None else g_kwargs

    def part(prefix):
        return {k[len(prefix):]: v for k, v in g_vars.items() if k.startswith(prefix)}

    def gen():
        top = {k: v for k, v in g_vars.items() if "/" not in k and not k.startswith("noise")}
        return tf_network("G", g_kwargs, top, {
            "mapping": tf_network("G_mapping", {}, part("mapping/")),
            "synthesis": tf_network("G_synthesis", {}, part("synthesis/"))})
    D = tf_network("D", TF_D_KWARGS if d_kwargs is None else d_kwargs, d_vars)
    return dumps((gen(), D, gen()))
