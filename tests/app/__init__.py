"""Tests of ganvas.app."""
