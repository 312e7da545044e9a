"""Latent-space tools: the Sampler every picture goes through (sampler; seeds to latents and
fixed-size chunks in sampling; look: the class, truncation and noise mode a picture is made
with), walks between keyframes (interpolate, keyframes, animate, video), single-dimension
sweeps (explore), style mixing (stylemix) and projection (project)."""
