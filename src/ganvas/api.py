"""The public Python API; the CLI only parses arguments and calls these."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch

from . import checkpoint
from .aspect import describe
from .display import Animation, Picture, newest_samples
from .errors import GanvasError
from .imaging import make_grid, save_cells, save_png, save_seed_images, to_uint8
from .latent import keyframes
from .latent.animate import Walk, WalkOptions, write_walk
from .latent.directions import Directions, find_directions, load_directions
from .latent.explore import MAX_DIMS, explore as sweep_dims
from .latent.explore import along_directions, explore_directions as sweep_directions
from .latent.explore import dim_labels, direction_labels, value_labels
from .latent.frames import check_frames_folder, is_frames_folder, write_walk_frames
from .latent.look import Look
from .latent.sampler import Sampler
from .latent.sampling import check_seeds
from .latent.stylemix import style_mix as mix_styles
from .config import resolve
from .config.presets import (DEMO_DATA, DEMO_PRESET, DEMO_RESOLUTION, DEMO_SHAPES_KIMG,
                             demo_options)
from .config.resolve import Resolved
from .latent.video import check_fps
from .outputs import (check_audio_output, check_grid_out, check_keyframes_out, check_new_folder,
                      check_out_file, check_out_folder, check_scale, walk_format)
from .runfolder.imported import is_network_pickle, read_imported, write_imported
from .runfolder.locate import resolve_model_dir
from .training import runs
from .device import pick_device

MAX_BATCH_BYTES = 4 << 30     # save_images makes all its pictures at once (float32 NCHW)
MAX_GRID_BYTES = 1 << 30      # one grid PNG, enlarged, in memory


class Model:
    """A trained generator ready to make pictures (loaded with `ganvas.load`).

    `sampler` (ganvas.latent.sampler.Sampler) does the work; `capabilities` says what the
    model's family can do (w space, noise inputs, style mixing, ...: ganvas.models)."""

    def __init__(self, G: torch.nn.Module, info: dict, path: Path):
        self.G, self.info, self.path = G, info, path
        names = info.get("dataset", {}).get("class_names", [])
        self.sampler = Sampler(G, names, name=str(path))
        self.family, self.capabilities = self.sampler.family, self.sampler.capabilities
        self.resolution, self.channels = self.sampler.resolution, self.sampler.channels
        self.aspect, self.shape = self.sampler.aspect, self.sampler.shape   # W:H; (H, W)
        self.z_dim, self.num_classes = self.sampler.z_dim, self.sampler.num_classes
        self.class_names = self.sampler.class_names
        self.kimg = info.get("kimg", 0.0)

    @property
    def picture_size(self) -> str:
        """'64x64', or '128x64 (2:1)' for a non-square model: W x H as people write it."""
        return describe(self.resolution, self.aspect)

    @property
    def device(self) -> torch.device:
        return self.sampler.device

    def z(self, seeds: list[int]) -> torch.Tensor:
        """Latents (N, z_dim) of the given seeds (each seed always gives the same latent)."""
        return self.sampler.z(seeds)

    def w(self, seeds: list[int], label: int | str | None = None,
          truncation: float = 1.0) -> torch.Tensor:
        """The ws (N, num_ws, w_dim) of the seeds (classes as in `labels`), after truncation;
        what a walk in w space starts from. A clear error for families without a w space."""
        return self.sampler.w(seeds, Look(label, truncation))

    def class_index(self, label: int | str) -> int:
        """A class name or index -> its index; a clear error for unconditional models and
        unknown classes."""
        return self.sampler.class_index(label)

    def labels(self, seeds: list[int], label: int | str | None = None) -> torch.Tensor | None:
        """Class labels (N,) for `seeds`: the class asked for, or for a conditional model
        without one, class seed % num_classes (so a seed's image never depends on the others).
        None for unconditional models."""
        return self.sampler.labels(seeds, label)

    def synthesize(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                   truncation: float = 1.0, noise_mode: str | None = None) -> np.ndarray:
        """Latents (N, z_dim) [+ labels (N,)] -> uint8 images (N, H, W, C).

        truncation psi pulls each latent towards the average one (1 = none, 0 = the average
        image, negative = the "opposite" side), where the family applies it
        (capabilities.truncation_space: towards w_avg in w, or z * psi). noise_mode (families
        with noise inputs only): const (default), random or none."""
        look = Look(truncation=truncation, noise_mode=noise_mode)
        return to_uint8(self.sampler.images(z, labels, look))

    def generate(self, seeds, label: int | str | None = None, truncation: float = 1.0,
                 noise_mode: str | None = None, look: Look | None = None) -> np.ndarray:
        """Seeds (an iterable of ints) -> uint8 images (N, H, W, C); same seed, same image.
        `label`: class name or index for conditional models; truncation and noise_mode as in
        `synthesize`; or the three as one `look` (ganvas.Look)."""
        return self.sampler.generate(seeds, look_of(look, label, truncation, noise_mode))

    def grid(self, seeds, label: int | str | None = None, truncation: float = 1.0,
             noise_mode: str | None = None, cols: int | None = None, pad: int = 0,
             scale: int | None = None, look: Look | None = None) -> Picture:
        """The seeds' pictures as one grid (make_grid's layout: `cols`, default about sqrt(N),
        `pad` white pixels between cells) that a notebook shows inline, enlarged `scale` times
        (None: to about 512 px; ganvas.display.Picture). np.asarray(grid) gives its pixels,
        grid.save("grid.png") writes them. label, truncation and noise_mode (or `look`) as in
        `generate`."""
        look = look_of(look, label, truncation, noise_mode)
        seeds = check_seeds(seeds)
        if not seeds:
            raise GanvasError("give at least 1 seed for a grid")
        self.check_batch(len(seeds))
        return Picture(make_grid(self.generate(seeds, look=look), cols=cols, pad=pad), scale)

    def animate(self, seeds=None, latents=None, class_walk=None, fps: float = 12,
                scale: int | None = None, **options) -> Animation:
        """A walk (as `walk` makes it from seeds, latents or class_walk, with its `options`:
        label, space, truncation, look, frames_per_step, loop, method, easing, noise_mode)
        rendered whole as an Animation that a notebook shows inline as a looping GIF at `fps`,
        enlarged `scale` times (None: to about 256 px; ganvas.display.Animation).
        np.asarray(animation) gives the frames, animation.save("walk.gif") writes them."""
        if options.get("audio") is not None or options.get("storyboard"):
            raise GanvasError("an animation is the walk's frames without sound: for a music "
                              "video or a storyboard use interpolate(out=...)")
        walk = self.walk(seeds=seeds, latents=latents, class_walk=class_walk, **options)
        return Animation.of_walk(walk, fps, scale)

    def walk(self, seeds=None, latents=None, class_walk=None, label: int | str | None = None,
             space: str | None = None, truncation: float = 1.0, storyboard: bool = False,
             audio: str | os.PathLike | None = None, audio_react=None, fps: float = 24,
             look: Look | None = None, **options) -> Walk:
        """A walk through keyframes as a lazy frame sequence: len(walk) frames,
        walk.frames(start, stop) -> uint8 (n, H, W, C). Keyframes and `options`
        (frames_per_step, loop, method, easing, noise_mode) as in `interpolate`; storyboard:
        one row of frames_per_step + 1 frames per step instead of the animation. audio and
        audio_react as in `interpolate`: round(duration x fps) frames set to the song."""
        from .latent import audio as music
        react = music.react_options(audio, audio_react, storyboard, options)
        look = look_of(look, label, truncation, options.pop("noise_mode", None))
        keys = keyframes.build(self.sampler, seeds, latents, class_walk, space, look)
        walk_options = WalkOptions(look=look, **options)
        if audio is None:
            return Walk(self.sampler, keys, walk_options, storyboard)
        check_fps(fps)
        return Walk(self.sampler, keys, walk_options, music=music.analyse(audio, fps),
                    react=react)

    def interpolate(self, out: str | os.PathLike, seeds=None, latents=None, class_walk=None,
                    label: int | str | None = None, space: str | None = None,
                    truncation: float = 1.0, fps: float = 24, scale: int = 1,
                    progress: bool = True, audio: str | os.PathLike | None = None,
                    audio_react=None, look: Look | None = None, **options) -> Path:
        """Write a walk through keyframes to `out`: .mp4 (H.264, streamed to disk), .gif,
        .png (a grid, one row per step from keyframe to keyframe), or a folder (a name
        ending in "/", or an existing empty folder) of one PNG per frame of the animation,
        frame00000.png ... (ganvas.latent.frames); atomically.

        Keyframes, exactly one of: `seeds` (ints); `latents`, a .npz file with "z" (K, z_dim)
        [+ "labels" (K,)] or "w" (K, num_ws, w_dim) or (K, w_dim) (ganvas.latent.keyframes);
        `class_walk`, classes (names or indices) of a conditional model visited with one
        fixed latent (seeds: at most one, default 0), interpolating the class embedding.
        `label` fixes a conditional model's class (default: seed % num_classes).
        space: "z" (default) or "w" (StyleGAN2: interpolate after the mapping network).
        options: frames_per_step (24), loop (False: K - 1 steps and a last frame on the last
        keyframe; True: K steps back to the first, the last frame just before it), method
        ("slerp" or "lerp"), easing ("linear" or "smooth"), noise_mode (StyleGAN2).
        truncation psi as in `synthesize`; `look`: label, truncation and noise_mode as one
        ganvas.Look instead; fps (24); scale: nearest-neighbour enlargement.

        audio: a song (WAV, FLAC, MP3, OGG; needs librosa) for a music video (.mp4 only): as
        many frames as the song lasts (round(duration x fps); frames_per_step does not apply),
        moving faster on onsets and loud passages, the whole song covering the keyframe path,
        and the song as the MP4's AAC audio. audio_react: a ganvas.latent.audio.AudioReact or
        a dict of its fields: truncation ("low", "mid" or "high": that band pulls toward the
        average latent), direction ("dirs.npz:INDEX[:BAND]": the band moves the latent along
        that direction), strength (see ganvas.latent.audio)."""
        from .latent import audio as music
        frames = is_frames_folder(out)
        if frames:
            check_frames_folder(out, scale)
        else:
            walk_format(out)
        if audio is not None:
            check_audio_output(out)
        if not frames:
            check_out_file(out)
        check_scale(scale)
        check_fps(fps)
        look = look_of(look, label, truncation, options.pop("noise_mode", None))
        react = music.react_options(audio, audio_react, False, options)
        keys = keyframes.build(self.sampler, seeds, latents, class_walk, space, look)
        walk_options = WalkOptions(look=look, **options)
        song = None if audio is None else music.analyse(audio, fps)
        if frames:
            return write_walk_frames(Walk(self.sampler, keys, walk_options), out, scale,
                                     progress)
        return write_walk(self.sampler, keys, walk_options, out, fps=fps, scale=scale,
                          progress=progress, music=song, react=react)

    def explore(self, seed: int, dims: list[int], lo: float = -3.0, hi: float = 3.0,
                steps: int = 7, space: str | None = None, label: int | str | None = None,
                truncation: float = 1.0, noise_mode: str | None = None,
                out: str | os.PathLike | None = None, scale: int = 1,
                latents_out: str | os.PathLike | None = None,
                look: Look | None = None, labels: bool = True) -> np.ndarray:
        """uint8 (len(dims), steps, H, W, C): row r moves latent dimension dims[r] of the
        seed by linspace(lo, hi, steps), by default in the family's default space (w, in units
        of w's std, where it has one; else z) (ganvas.latent.explore). `out`: also write the
        cells as one grid PNG there, enlarged `scale` (1-16) times, each row labelled with its
        dimension ("z[10]") and each column with its shift ("-3.0") in a margin (labels=False:
        the bare grid). `latents_out`: also save the cells' latents, row by row, as a
        keyframes .npz for `interpolate(latents=...)`."""
        check_grid_out(out, scale)
        check_keyframes_out(latents_out)
        look = look_of(look, label, truncation, noise_mode)
        if hasattr(dims, "__len__") and len(dims) > MAX_DIMS:
            raise GanvasError(f"give 1 to {MAX_DIMS} dimensions, not {len(dims):,}")
        cells = sweep_dims(self.sampler, seed, list(dims), lo, hi, steps, space, look,
                           latents_out)
        if out is not None:
            space = space or self.capabilities.default_space()
            names = (dim_labels(list(dims), space), value_labels(lo, hi, steps)) if labels \
                else ()
            save_cells(cells, out, scale, *names)
        return cells

    def directions(self, method: str = "sefa", num: int = 10, layers: list[int] | None = None,
                   out: str | os.PathLike | None = None) -> Directions:
        """`num` directions found without labels (ganvas.latent.directions): "sefa", the
        closed-form factorisation of the weights that first act on the latent (StyleGAN2:
        the style affines of the w indices `layers`, default all), or "pca" (GANSpace) of
        sampled w or first-layer activations. `out`: also save them (.npz)."""
        found = find_directions(self.sampler, method, num, layers)
        if out is not None:
            found.save(out)
        return found

    def explore_directions(self, seed: int, directions: Directions | str | os.PathLike,
                           rows: list[int] | None = None, lo: float = -3.0, hi: float = 3.0,
                           steps: int = 7, label: int | str | None = None,
                           truncation: float = 1.0, noise_mode: str | None = None,
                           out: str | os.PathLike | None = None, scale: int = 1,
                           latents_out: str | os.PathLike | None = None,
                           look: Look | None = None, labels: bool = True) -> np.ndarray:
        """uint8 (rows, steps, H, W, C): row r moves the seed along direction rows[r] (default
        the first 10) of `directions` (a Directions or its .npz) by linspace(lo, hi, steps) in
        units of the latent's spread along it. `out`: also write the grid PNG, rows labelled
        "dir 2" and columns "-3.0" in a margin (labels=False: the bare grid). `latents_out`:
        also save the cells' latents, row by row, as keyframes for `interpolate(latents=...)`
        (a walk along the direction)."""
        check_grid_out(out, scale)
        check_keyframes_out(latents_out)
        look = look_of(look, label, truncation, noise_mode)
        if not isinstance(directions, Directions):
            directions = load_directions(directions)
        rows = list(range(min(len(directions.vectors), 10))) if rows is None else list(rows)
        cells = sweep_directions(self.sampler, seed, directions, rows, lo, hi, steps, look,
                                 latents_out)
        if out is not None:
            names = (direction_labels(rows), value_labels(lo, hi, steps)) if labels else ()
            save_cells(cells, out, scale, *names)
        return cells

    def along_directions(self, seed: int, directions: Directions | str | os.PathLike,
                         amounts: dict[int, float], label: int | str | None = None,
                         truncation: float = 1.0, noise_mode: str | None = None,
                         look: Look | None = None) -> np.ndarray:
        """uint8 (H, W, C): the seed moved by amounts[r] along direction r of `directions`
        for every r at once, in the units of explore_directions (the page's sliders)."""
        look = look_of(look, label, truncation, noise_mode)
        if not isinstance(directions, Directions):
            directions = load_directions(directions)
        return along_directions(self.sampler, seed, directions, dict(amounts), look)

    def style_mix(self, rows, cols, styles: str = "coarse", label: int | str | None = None,
                  truncation: float = 1.0, noise_mode: str | None = None,
                  out: str | os.PathLike | None = None, scale: int = 1,
                  look: Look | None = None) -> np.ndarray:
        """Style-mixing grid (families with style mixing), uint8 (R + 1, C + 1, H, W, C): top
        row the column seeds, left column the row seeds, cell (r, c) row seed r with the
        `styles` layers ("coarse", "middle", "fine" or w indices like "0-3") from column seed c
        (ganvas.latent.stylemix). `out`: also write it as one PNG there, enlarged `scale`
        (1-16) times."""
        check_grid_out(out, scale)
        look = look_of(look, label, truncation, noise_mode)
        cells = mix_styles(self.sampler, check_seeds(rows), check_seeds(cols), styles, look)
        if out is not None:
            save_cells(cells, out, scale)
        return cells

    def save_images(self, seeds, folder: str | os.PathLike | None = None,
                    grid: str | os.PathLike | None = None, label: int | str | None = None,
                    truncation: float = 1.0, noise_mode: str | None = None,
                    scale: int = 1, look: Look | None = None) -> list[Path]:
        """Generate the seeds' pictures once and write them, enlarged `scale` (1-16) times:
        one PNG per seed in `folder` (seed0003.png, ...; ganvas.imaging.seed_filename)
        and/or all of them as one grid PNG `grid` (make_grid's layout). label, truncation
        and noise_mode (or `look`) as in `generate`. Returns the paths written: the per-seed
        files in seed order, then the grid."""
        if folder is None and grid is None:
            raise GanvasError("say where to write: a folder (--out DIR) and/or a grid "
                              "(--grid FILE.png)")
        check_grid_out(grid, scale)
        check_out_folder(folder)
        check_scale(scale)
        look = look_of(look, label, truncation, noise_mode)
        seeds = check_seeds(seeds)
        self.check_batch(len(seeds), scale if grid is not None else 0)
        images = self.generate(seeds, look=look)
        paths = [] if folder is None else save_seed_images(images, seeds, folder, scale)
        if grid is not None:
            paths.append(save_png(make_grid(images), grid, scale=scale))
        return paths

    def check_batch(self, n: int, grid_scale: int = 0) -> None:
        """A GanvasError when n pictures (and, with grid_scale, their grid enlarged that many
        times) need more than MAX_BATCH_BYTES (MAX_GRID_BYTES) of memory."""
        h, w = self.shape
        pixels = h * w * self.channels
        if n * pixels * 4 > MAX_BATCH_BYTES:
            raise GanvasError(f"{n:,} pictures of {w}x{h} need "
                              f"{n * pixels * 4 / 2**30:.1f} GiB at once (at most "
                              f"{MAX_BATCH_BYTES >> 30} GiB); ask for fewer seeds at a time")
        if grid_scale and n * pixels * grid_scale ** 2 > MAX_GRID_BYTES:
            raise GanvasError(f"a grid of {n:,} pictures of {w * grid_scale}x{h * grid_scale} "
                              f"is {n * pixels * grid_scale ** 2 / 2**30:.1f} GiB (at most "
                              f"{MAX_GRID_BYTES >> 30} GiB); use fewer seeds or a smaller "
                              f"--scale")

    def project(self, targets, out: str | os.PathLike = "projection", steps: int = 1000,
                seed: int = 0, label: int | str | None = None, w_plus: bool = False,
                feature_weights: str | os.PathLike | None = None, video: str | None = None,
                fps: float = 30, scale: int = 1, progress: bool = True,
                callback=None) -> dict:
        """Find latents whose pictures reproduce the image files `targets` (one or a list);
        write to folder `out` latent.npz (keyframes for `interpolate`), reconstruction.png
        (targets beside reconstructions), projection.json (returned: distances before and
        after) and, with `video` (a file name ending .mp4 or .gif), the optimisation.
        StyleGAN2: w from w_avg (one w for all layers; `w_plus`: one per layer); others: z.
        Distance: VGG-16 (`feature_weights`: its weight file, "PATH" or "vgg16=PATH" as eval's
        feature_weights name it; else found as ganvas.metrics.weights does) or, without
        weights, a Laplacian-pyramid pixel loss (ganvas.latent.project).
        callback(step, steps, distance): called after every step (e.g. a progress bar)."""
        from .latent.project import ProjectOptions, project
        check_out_folder(out)
        if isinstance(targets, (str, os.PathLike)):
            targets = [targets]
        options = ProjectOptions(steps=steps, seed=seed, label=label, w_plus=w_plus)
        return project(self.sampler, list(targets), out, options, feature_weights=feature_weights,
                       video=video, fps=fps, scale=scale, progress=progress,
                       callback=callback)

    def export(self, out: str | os.PathLike, format: str = "safetensors",
               uint8: bool = False) -> Path:
        """Write the generator to `out`: "safetensors" = a standalone model folder
        (model.json + G_ema.safetensors), "onnx" = out/generator.onnx, checked against
        PyTorch with onnxruntime (uint8: uint8 NHWC output); see ganvas.export."""
        from .export import export
        check_out_folder(out)
        return export(self, out, format, uint8=uint8)

    def blend(self, fine: Model | str | os.PathLike, out: str | os.PathLike, swap_at: int,
              crossfade: int = 0) -> Path:
        """Layer swapping (ganvas.blend): write to `out` (a new or empty folder) an exported
        model whose generator has this model's (BASE's) layers at resolutions <= swap_at px
        (mapping network, constant or first layer and those blocks) and the other model's
        (`fine`, a loaded Model or a path; the same architecture) above: BASE's layout with
        FINE's detail and colour. swap_at 0 takes every layer from FINE. crossfade N: a linear
        ramp of parameter interpolation over the N blocks around the cut instead of a hard
        one. Batch-norm statistics (DCGAN, FastGAN) are re-estimated on the blended generator
        from fixed latents. model.json is BASE's plus "blend" (both paths, swap_at, crossfade,
        the weights, batchnorm_recalibrated).
        Returns the folder, which every verb loads like any exported model."""
        from . import blend as layer_swap
        from .export import export_safetensors
        out = Path(out)
        check_new_folder(out)
        check_out_folder(out)
        if not isinstance(fine, Model):
            try:
                fine = load(fine, device="cpu")
            except GanvasError as e:
                raise GanvasError(f"FINE: {e}") from None
        G, info = layer_swap.blend(self, fine, swap_at, crossfade)
        return export_safetensors(Model(G, info, self.path), out)

    def __repr__(self) -> str:
        return (f"<ganvas Model {self.family} {self.picture_size} px x{self.channels} "
                f"kimg={self.kimg:g} from {self.path}>")


def look_of(look: Look | None, label, truncation, noise_mode) -> Look:
    """The Look a verb was asked for: `look`, or one made of the separate label, truncation and
    noise_mode; a GanvasError when both are given."""
    if look is None:
        return Look(label, truncation, noise_mode)
    if (label, truncation, noise_mode) != (None, 1.0, None):
        raise GanvasError("give label, truncation and noise_mode or a look, not both")
    return look


def load(model: str | os.PathLike, device: str = "auto") -> Model:
    """Load a run directory (its newest snapshot), a snapshot, an exported model or an NVlabs
    network pickle (a .pkl path or URL, `URL#sha256=HEX` to pin it: read without running
    anything in it and converted in memory) onto `device` (ganvas.device.pick_device: auto =
    CUDA, then MPS, then CPU)."""
    if is_network_pickle(model):
        imported = read_imported(model)
        print(f"{imported.describe()}: converted in memory, none of its code run "
              f"(ganvas import writes it once as a ganvas model)", file=sys.stderr)
        G = imported.generator().to(pick_device(device))
        return Model(G, imported.info, imported.path)
    folder = resolve_model_dir(model)
    G, info = checkpoint.load_generator(folder)
    return Model(G.to(pick_device(device)), info, folder)


def samples(run_dir: str | os.PathLike, scale: int | None = None) -> Picture:
    """The run's newest sample grid (the fixed latents drawn at every snapshot, as training
    goes) as a Picture a notebook shows inline, enlarged `scale` times (None: to about 512 px;
    ganvas.display.Picture)."""
    return newest_samples(run_dir, scale)


def import_pickle(source: str | os.PathLike, out: str | os.PathLike) -> Path:
    """An NVlabs network pickle (StyleGAN2-ADA, StyleGAN3 or TensorFlow StyleGAN2; a path or a
    URL) as an ordinary ganvas model folder `out`: model.json, G_ema and, where the file has
    them, G and D (and its augmentation p, which --init-from carries on). Nothing in the file
    is run; an architecture ganvas cannot follow is one GanvasError saying what."""
    return write_imported(source, out)


def train(data: str | os.PathLike | None = None, out: str | os.PathLike = "runs",
          model: str | None = None, progress: bool = True,
          config: str | os.PathLike | None = None, dry_run: bool = False,
          new_run: bool = False, **options) -> Path | Resolved:
    """Train a run on `data` (archive, image folder or demo:NAME) with preset `model`
    (dcgan, wgan-gp, cgan, cwgan-gp, stylegan2, fastgan, stylegan3-t, stylegan3-r and their
    -tiny twins; default dcgan-tiny on a CPU, on a GPU the data's recipe
    (config.presets.default_preset: fastgan below 2,000 images, stylegan2 from there), with
    init_from the source model's preset);
    returns the run directory. Called again with the same data and options into the same
    `out`, it continues the run it made (the newest there with this configuration, whatever
    its kimg, minutes or device: to the new kimg total, or for the minutes again), which is
    how a notebook cell run again after a disconnect goes on; `new_run=True` starts a new
    run anyway.

    `options` are the training options (ganvas.config.options; `ganvas train --help` lists them with
    their flags): ModelConfig / TrainConfig fields (resolution, kimg, minutes, batch, seed,
    loss, n_critic, z_dim, ema_kimg, spectral_norm, d_norm, gate_d, init_from, freeze_d,
    precision, ...), conditional=True (any preset conditioned on the dataset's labels),
    augmentation (aug="auto"|"ada"|"fixed"|"diffaug"|"none", p, target, augpipe, ada_kimg,
    ada_interval, diffaug="color,translation,cutout", classic_aug=True, aug_crop, aug_rotate,
    aug_shear, aug_brightness, aug_contrast) and metrics measured during training
    (metrics="swd,fid", metrics_every kimg (0: at each snapshot), metrics_num, best_metric,
    extractor, feature_weights). None means "not given"; ganvas.config.options.OFF turns an optional
    one off (gate_d=OFF).

    config: a run's config.json (or part of one) replayed: its values replace the preset's,
    `options` replace its; `data` defaults to its train.data. dry_run: return the resolved
    configuration (a `Resolved`: .config, and .sources saying where each value came from)
    without writing anything. Every option is checked before any file is written.

    Started by torchrun (WORLD_SIZE > 1 in the environment), every process calls this and
    together they train one run, the first process writing it (README: Many processes)."""
    plan = resolve.plan(data, model, config, options)
    if dry_run:
        return plan
    check_out_folder(out)
    return runs.start(plan, out, progress=progress, new_run=new_run)


def resume(run_dir: str | os.PathLike, kimg: float | None = None, minutes: float | None = None,
           progress: bool = True, device: str | None = None) -> Path:
    """Continue a run from its newest snapshot, on its own device or `device` (see
    training.runs.resume)."""
    return runs.resume(run_dir, kimg=kimg, minutes=minutes, progress=progress, device=device)


def demo(out: str | os.PathLike = "ganvas-demo", minutes: float = 5.0, seed: int = 0,
         progress: bool = True, precision: str | None = None) -> dict[str, Path]:
    """Train a small DCGAN on the bundled emoji for `minutes`, then write a sample grid and a
    latent-walk GIF. Returns {"run": ..., "grid": ..., "walk": ...} and "note" when it
    trained too little for the pictures to take shape (printed too). Run again into the same
    `out`, it continues the same run.

    The recipe is config.presets' (DEMO_PRESET with demo_options: 32x32, on a laptop CPU four
    times the steps of 64px in the same minutes). Its precision is training's `auto` (bf16 on
    a CPU with native bfloat16); `precision` overrides."""
    out = Path(out)
    run = train(DEMO_DATA, out=out / "runs", model=DEMO_PRESET, progress=progress,
                **demo_options(minutes, seed, precision))
    m = load(run)
    scale = 128 // DEMO_RESOLUTION
    grid = save_png(make_grid(m.generate(range(64)), pad=2), out / "grid.png", scale=scale // 2)
    gif = m.interpolate(out / "walk.gif", seeds=range(6), frames_per_step=12, loop=True,
                        fps=12, scale=scale * 2, progress=False)
    paths = {"run": run, "grid": grid, "walk": gif}
    note = demo_note(run)
    if note and progress:
        print(note, flush=True)
    return paths | ({"note": note} if note else {})


def demo_note(run: Path) -> str | None:
    """The demo's line when it trained too little for its pictures to take shape."""
    from .runfolder.read import read_run
    data = read_run(run)
    if data.kimg >= DEMO_SHAPES_KIMG:
        return None
    speed = data.ticks[-1].get("img_per_s") if data.ticks else None
    at = f" at {speed:.0f} img/s" if isinstance(speed, (int, float)) else ""
    return (f"note: the demo trained {data.kimg:.0f} kimg{at}; its pictures take shape from "
            f"about {DEMO_SHAPES_KIMG} kimg (a quiet 2-core CPU reaches 400 in 5 minutes), so "
            f"they are still blobs: run `ganvas demo` again to train the same run further, "
            f"or give it --minutes")


def report(run_dir: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """Write the run's self-contained report page (default run_dir/report.html) with its
    curves, reals beside fakes, latest grid and progress GIF; returns the HTML path."""
    from .report import write_report
    return write_report(run_dir, out=out)


def evaluate(model: Model | str | os.PathLike, metrics: str | list[str] = "swd",
             num: int | None = None, extractor: str | None = None,
             feature_weights: str | dict | None = None, out: str | os.PathLike | None = None,
             device: str = "auto") -> dict:
    """Compare `num` generated images (seeds 0..num-1; 2 to ganvas.limits.MAX_GENERATED,
    50,000; None: 5,000 when the features run on a GPU, 1,000 on a CPU) of `model` (a path,
    loaded onto `device`, or a loaded Model) with all its training images (up to MAX_REALS),
    whatever `num`, on `metrics` ("swd,fid" or a list: swd, fid, kid, is, pr); feature passes
    run on `device` (ganvas.device.pick_device).

    extractor: one feature network for all feature metrics instead of the standard ones
    (e.g. "random-conv", offline; numbers not comparable with papers). feature_weights:
    local weight files, "[NAME=]PATH,..." or {name: path}. out: also write the result as
    JSON there, atomically (`ganvas eval`'s default, RUN/eval/...: runfolder.locate.eval_out).
    Returns {"metrics": {...}, "generated", "reals" (the two counts), "better" (key -> "lower
    is better" / "higher is better"), "real_reference" (key -> what the training images score:
    real vs real on two disjoint halves; IS: of the reals), "note" (when few reals bias
    FID/IS/PR), "extractors", "weights", ...} (ganvas.metrics.evaluate; its `table` prints
    it)."""
    from .limits import check_generated
    from .metrics import evaluate as ev
    if num is not None:
        num = check_generated(num, "num")       # the limit before any work
    device = pick_device(device)                # a device error before any work
    check_out_file(out)                         # and one about where the JSON goes
    names = ev.parse_metrics(metrics if isinstance(metrics, str) else ",".join(metrics))
    weights = ev.as_feature_weights(feature_weights)
    model = model if isinstance(model, Model) else load(model, device)
    result = ev.evaluate(model, names, num, extractor, weights, device=device)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        ev.write_json(result, out)
    return result


def memorization(model: Model | str | os.PathLike, num: int = 1000,
                 extractor: str | None = None, feature_weights: str | dict | None = None,
                 out_dir: str | os.PathLike = "memorization", neighbours: int = 3,
                 train_limit: int | None = None, device: str = "auto") -> dict:
    """Are samples copies of training images? The `neighbours` nearest training images of
    `num` samples of `model` (a path, loaded onto `device`, or a loaded Model), in the
    feature space of `extractor` (default inception-v3) and in pixel space; train_limit: a
    fixed random subset of that many training images. feature_weights as in `evaluate`.
    Writes out_dir/memorization.json and a comparison grid per space; returns the JSON's
    content, with a verdict (ganvas.metrics.memorization; its `table` prints it)."""
    from .metrics import evaluate as ev
    from .metrics import memorization as mem
    device = pick_device(device)                # a device error before any work
    weights = ev.as_feature_weights(feature_weights)
    features = ev.build_extractor(extractor or "inception-v3", weights)
    model = model if isinstance(model, Model) else load(model, device)
    return mem.memorization(model, num, features, out_dir, neighbours=neighbours,
                            train_limit=train_limit, device=device)
