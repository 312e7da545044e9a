"""Where ganvas keeps caches (prepared folders, decoded datasets, downloaded weights)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """ganvas's cache folder (created): $GANVAS_CACHE, else $XDG_CACHE_HOME/ganvas, else
    ~/.cache/ganvas; `parts` name a sub-folder."""
    root = os.environ.get("GANVAS_CACHE")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = str(Path(xdg) / "ganvas")
    path = Path(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
