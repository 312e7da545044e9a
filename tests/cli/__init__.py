"""Tests of the command line (ganvas.cli): usage errors and --device."""
