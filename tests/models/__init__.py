"""Tests of ganvas.models."""
