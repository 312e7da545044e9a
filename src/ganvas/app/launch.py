"""`ganvas app`: check the model, then run the page with Streamlit in a child process."""

from __future__ import annotations

import importlib.util
import ipaddress
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
    deploy button, XSRF protection and CORS on (given here, so that a stray
    .streamlit/config.toml in the working folder cannot turn them off: the command line wins
    over config files); the page's own arguments after "--": MODEL [--device DEVICE] (left
    out for auto, the page's default)."""
    return [sys.executable, "-m", "streamlit", "run", str(SCRIPT),
            "--server.address", host, "--server.port", str(port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.enableXsrfProtection", "true", "--server.enableCORS", "true",
            "--server.runOnSave", "false", "--global.developmentMode", "false",
            "--server.fileWatcherType", "none", "--server.maxUploadSize", str(MAX_UPLOAD_MB),
            "--client.toolbarMode", "minimal",
            "--", os.fspath(model), *(["--device", device] if device != "auto" else [])]


def is_loopback(host: str) -> bool:
    """True for addresses only this computer reaches: 127.0.0.0/8, ::1 and localhost."""
    if host.strip().lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str) -> str | None:
    """The console warning for a --host other computers can reach (None for loopback)."""
    if is_loopback(host):
        return None
    return (f"ganvas app: warning: listening on {host}: anyone who can reach this address "
            f"can use the page and this computer's CPU/GPU time "
            f"(no password); use the default 127.0.0.1 to keep it local")


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
    warning = exposure_warning(host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
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
