"""Tests of ganvas.augment."""
