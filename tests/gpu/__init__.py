"""Tests of every CUDA code path, marked `gpu`: they skip without CUDA (see helpers.py)."""
