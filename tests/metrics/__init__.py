"""Tests of ganvas.metrics."""
