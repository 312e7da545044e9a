"""Latent-space tools: seeds to latents, walks between them."""
