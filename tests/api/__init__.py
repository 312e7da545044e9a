"""Tests of the Python API's Model (ganvas.api) and its verbs: generate, export, blend and the
measures it writes."""
