"""Tests of the options, presets and their resolution (ganvas.config, options, presets,
resolve)."""
