"""Tests of ganvas.data."""
