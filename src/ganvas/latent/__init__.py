"""Latent-space tools: the Sampler every picture goes through (sampler; seeds to latents and
fixed-size chunks in sampling), walks between keyframes (interpolate, keyframes, animate,
video), single-dimension sweeps (explore), style mixing (stylemix) and projection (project)."""
