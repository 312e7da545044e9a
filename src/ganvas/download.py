"""The one downloader: a URL into a file, capped in size, its sha256 checked before the file
appears (a failed, oversized or wrong download leaves nothing behind). Feature weights
(metrics/weights.py) and network pickles given as URLs (runfolder/imported.py) use it."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from .durable import atomic_save
from .errors import GanvasError

DOWNLOAD_TIMEOUT_S = 60
CHUNK = 1 << 20


def too_big(name: str, size: str, max_bytes: int) -> str:
    return f"refusing to download {name}: {size} (at most {max_bytes:,}); not kept"


def check_length(name: str, length: str | None, max_bytes: int) -> None:
    """A GanvasError for a declared Content-Length above max_bytes."""
    if length is not None and length.strip().isdigit() and int(length) > max_bytes:
        raise GanvasError(too_big(name, f"{int(length):,} bytes declared", max_bytes))


def download(url: str, target: Path, max_bytes: int, check: Callable[[str], str | None],
             offline_hint: str, name: str | None = None) -> Path:
    """Download `url` to `target` (at most max_bytes, counted as it arrives whatever the server
    declares). `check(sha256)` returns None to keep the file or the reason it is refused;
    `offline_hint` ends the error of a failed download (where to put the file by hand)."""
    name = name or Path(target).name
    print(f"downloading {url} -> {target}")

    def save(tmp: str) -> None:
        h = hashlib.sha256()
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as r, \
                    open(tmp, "wb") as f:
                check_length(name, r.headers.get("Content-Length"), max_bytes)
                size = 0
                for chunk in iter(lambda: r.read(CHUNK), b""):
                    size += len(chunk)
                    if size > max_bytes:
                        raise GanvasError(too_big(name, f"more than {size:,} bytes", max_bytes))
                    h.update(chunk)
                    f.write(chunk)
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            raise GanvasError(f"could not download {name} ({reason}); {offline_hint}") from None
        refused = check(h.hexdigest())
        if refused:
            raise GanvasError(f"downloaded {name} has sha256 {h.hexdigest()[:16]}..., "
                              f"{refused}; not kept")

    return atomic_save(target, save)
