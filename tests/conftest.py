"""Shared fixtures: tiny datasets made on the fly, and a tiny trained run (the helpers
they use are in tests/helpers.py)."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import TINY, make_toy_archive


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory):
    """A cache folder for the session, set before any module- or session-scoped fixture (a
    trained run) computes, so no test reads or writes the user's ~/.cache/ganvas."""
    with pytest.MonkeyPatch.context() as patched:
        patched.setenv("GANVAS_CACHE", str(tmp_path_factory.mktemp("session-cache")))
        # --threads auto measures how busy the machine is; runs a test compares bit for bit
        # (also with a subprocess) must use one count: torch's, as before auto existed.
        patched.setenv("GANVAS_THREADS", str(torch.get_num_threads()))
        yield


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own ganvas cache folder."""
    monkeypatch.setenv("GANVAS_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def toy_archive(tmp_path_factory):
    return make_toy_archive(tmp_path_factory.mktemp("data") / "toy.zip")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, toy_archive):
    """A finished tiny run (two snapshots), shared by tests that only read it."""
    import ganvas
    return ganvas.train(str(toy_archive), out=tmp_path_factory.mktemp("runs"), kimg=0.256,
                        **TINY)
