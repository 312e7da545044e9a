"""Tests of ganvas.report."""
