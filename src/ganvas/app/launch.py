"""`ganvas app`: check the model, then run the page with Streamlit in a child process."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from ganvas import GanvasError, load

SCRIPT = Path(__file__).with_name("streamlit_app.py")
MAX_UPLOAD_MB = 10           # Streamlit refuses bigger uploads before the page sees them


def command(model: str | os.PathLike, host: str = "127.0.0.1", port: int = 8501,
            device: str = "auto") -> list[str]:
    """The `streamlit run` command line: headless, no usage statistics, no file watcher, no
    deploy button; the page's own arguments after "--": MODEL [--device DEVICE] (left out
    for auto, the page's default)."""
    return [sys.executable, "-m", "streamlit", "run", str(SCRIPT),
            "--server.address", host, "--server.port", str(port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none", "--server.maxUploadSize", str(MAX_UPLOAD_MB),
            "--client.toolbarMode", "minimal",
            "--", os.fspath(model), *(["--device", device] if device != "auto" else [])]


def check(model: str | os.PathLike, port: int, device: str = "auto") -> None:
    """GanvasErrors for a bad port, a missing Streamlit or a model that does not load (onto
    `device`)."""
    if not 1 <= port <= 65535:
        raise GanvasError(f"--port must be from 1 to 65535, not {port}")
    if importlib.util.find_spec("streamlit") is None:
        raise GanvasError("the app needs Streamlit: pip install 'ganvas[app]'")
    load(model, device)


def launch(model: str | os.PathLike, host: str = "127.0.0.1", port: int = 8501,
           device: str = "auto") -> int:
    """Serve the page for `model` (computing on `device`) at http://HOST:PORT until
    interrupted; returns Streamlit's exit code. The child is always stopped, also when this
    process is interrupted."""
    check(model, port, device)
    print(f"ganvas app: http://{host}:{port} (Ctrl-C stops it)", flush=True)
    child = subprocess.Popen(command(model, host, port, device))
    previous = None
    if threading.current_thread() is threading.main_thread():
        # A plain `kill` of this process must not leave Streamlit running: exit via finally.
        previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        return child.wait()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
