"""Tests of ganvas.losses."""
