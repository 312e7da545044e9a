"""Tests of ganvas.latent."""
