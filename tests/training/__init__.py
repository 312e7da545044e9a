"""Tests of ganvas.training."""
