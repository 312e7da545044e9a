"""Latent-space tools: seeds to latents (sampling), walks between keyframes (interpolate,
keyframes, animate, video), single-dimension sweeps (explore) and style mixing (stylemix);
synth holds the chunked generator calls they share."""
