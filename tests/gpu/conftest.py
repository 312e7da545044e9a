"""The fixture of the GPU tests: one CUDA Context for the whole session."""

from __future__ import annotations

import pytest

from .helpers import Context


@pytest.fixture(scope="session")
def ctx(tmp_path_factory):
    """The CUDA Context every GPU test shares, so each trained run is made once and reused
    by the tests that load it (the test modules skip before asking for it without CUDA)."""
    import torch
    return Context(device=torch.device("cuda"), quick=False,
                   tmp=tmp_path_factory.mktemp("gpu"))
