"""Where the standard feature networks' weights come from: path, env var, cache, download."""

from __future__ import annotations

import hashlib

import pytest
import re
import torch

from ganvas.cli import main

from tests.helpers import usage_error
from ganvas.errors import GanvasError
from ganvas import download
from ganvas.metrics import weights as w
from ganvas.metrics.extractors import EXTRACTORS
from ganvas.metrics.inception import InceptionV3


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    """A randomly initialised Inception state dict (the real one is 100 MB and online)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "inception.pth"
    torch.save(InceptionV3().state_dict(), path)
    return path


def serve_as(monkeypatch, name: str, source, prefix: str | None = None) -> str:
    """Point the registry entry of `name` at a file:// URL (urllib's real download path)."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    entry = w.WeightFile(f"{name}-{digest[:8]}.pth", source.resolve().as_uri(),
                         prefix or digest[:8], w.WEIGHTS.get(name).env)
    monkeypatch.setitem(w.WEIGHTS._entries, name, entry)
    return digest


def test_download_goes_to_the_cache_once_and_is_checked(monkeypatch, inception_file):
    digest = serve_as(monkeypatch, "inception-v3", inception_file)
    first = w.resolve_weights("inception-v3")
    assert first.path == w.cached_path("inception-v3") and first.path.is_file()
    assert first.official and first.sha256 == digest
    inception_file_moved = inception_file.with_suffix(".gone")
    inception_file.rename(inception_file_moved)          # the second call must not download
    try:
        assert w.resolve_weights("inception-v3").path == first.path
    finally:
        inception_file_moved.rename(inception_file)


def test_a_download_with_the_wrong_checksum_is_not_kept(monkeypatch, inception_file):
    serve_as(monkeypatch, "inception-v3", inception_file, prefix="00000000")
    with pytest.raises(GanvasError, match="expected 00000000"):
        w.resolve_weights("inception-v3")
    assert not w.cached_path("inception-v3").exists()
    assert not list(w.cached_path("inception-v3").parent.iterdir())    # no temp file left


def test_a_damaged_cached_file_is_reported(monkeypatch, inception_file):
    serve_as(monkeypatch, "inception-v3", inception_file)
    w.cached_path("inception-v3").write_bytes(b"truncated")
    with pytest.raises(GanvasError, match="damaged.*delete it"):
        w.resolve_weights("inception-v3")


def test_offline_error_names_the_file_and_where_to_put_it(monkeypatch):
    entry = w.WEIGHTS.get("inception-v3")
    monkeypatch.setitem(w.WEIGHTS._entries, "inception-v3", w.WeightFile(
        entry.filename, "http://127.0.0.1:9/" + entry.filename, entry.sha256_prefix, entry.env))
    with pytest.raises(GanvasError, match=f"^could not download {re.escape(entry.filename)} "
                                          f"\\(.*\\); offline, download ") as e:
        w.resolve_weights("inception-v3")
    message = str(e.value)
    assert entry.filename in message and str(w.cached_path("inception-v3")) in message
    assert "--feature-weights" in message and entry.env in message and "\n" not in message


def test_env_var_and_explicit_path(monkeypatch, inception_file):
    monkeypatch.setenv("GANVAS_WEIGHTS_INCEPTION_V3", str(inception_file))
    got = w.resolve_weights("inception-v3")
    assert got.path == inception_file and not got.official      # random, not the published
    with pytest.raises(GanvasError, match="not found.*--feature-weights"):
        w.resolve_weights("inception-v3", "/no/such/file.pth")
    monkeypatch.setenv("GANVAS_WEIGHTS_INCEPTION_V3", "/no/such/file.pth")
    with pytest.raises(GanvasError, match="GANVAS_WEIGHTS_INCEPTION_V3"):
        w.resolve_weights("inception-v3")


def test_a_file_of_another_network_is_a_clear_error(tmp_path):
    other = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(3)}, other)
    with pytest.raises(GanvasError, match="does not hold inception-v3 weights"):
        EXTRACTORS.get("inception-v3")(weights=str(other))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(GanvasError, match="cannot read"):
        EXTRACTORS.get("inception-v3")(weights=str(junk))


def test_random_conv_takes_no_weights(inception_file):
    with pytest.raises(GanvasError, match="no weight file"):
        EXTRACTORS.get("random-conv")(weights=str(inception_file))


@pytest.mark.parametrize("argv,needle", [
    (["--metrics", "fid"], "weights-inception-2015-12-05-6726825d.pth"),
    (["--metrics", "is", "--extractor", "random-conv"], "needs class logits"),
    (["--metrics", "fid,pr", "--feature-weights", "x.pth"], "say which file is which"),
    (["--metrics", "fid", "--feature-weights", "vgg16=x.pth"], "which no requested metric"),
])
def test_eval_weight_errors_are_one_line(argv, needle, tiny_run, tmp_path, capsys, monkeypatch):
    entry = w.WEIGHTS.get("inception-v3")      # offline, whatever the machine's network
    monkeypatch.setitem(w.WEIGHTS._entries, "inception-v3", w.WeightFile(
        entry.filename, "http://127.0.0.1:9/" + entry.filename, entry.sha256_prefix, entry.env))
    err = usage_error(["eval", str(tiny_run), "--out", str(tmp_path / "m.json"), *argv], capsys)
    assert needle in err and not (tmp_path / "m.json").exists()


def test_eval_with_local_inception_weights(tiny_run, tmp_path, inception_file, capsys):
    """fid, kid and is on a given Inception file, marked as not the published weights."""
    out = tmp_path / "m.json"
    assert main(["eval", str(tiny_run), "--metrics", "fid,kid,is", "--num", "12",
                 "--feature-weights", str(inception_file), "--out", str(out)]) == 0
    import json
    result = json.loads(out.read_text())
    assert set(result["metrics"]) >= {"fid", "kid", "is"} and result["metrics"]["is"] >= 1
    assert result["weights"]["inception-v3"]["official"] is False
    printed = capsys.readouterr().out
    assert "not comparable with papers" in printed
    # IS's reference is the IS of as many training images; FID's and KID's real vs real
    lines = {line.split()[0]: line for line in printed.splitlines()}
    ref = result["real_reference"]
    assert ref["is"]["kind"] == "real images" and ref["is"]["images"] == [12]
    assert lines["IS"].endswith(f"(higher is better; real images: {ref['is']['value']:.4g})")
    assert "real images: IS of 12 training images" in printed
    for key in ("fid", "kid"):
        assert ref[key]["images"] == [12, 12]
        assert lines[key.upper()].endswith(
            f"(lower is better; real vs real: {ref[key]['value']:.4g})")


# --- pinned hashes, the bytes loaded are the bytes checked, a capped download ---------------

def test_a_pinned_full_sha256_must_match(monkeypatch, inception_file):
    digest = serve_as(monkeypatch, "inception-v3", inception_file)
    entry = w.WEIGHTS.get("inception-v3")
    wrong = digest[:8] + "0" * 56                    # the name's prefix right, the rest not
    monkeypatch.setitem(w.WEIGHTS._entries, "inception-v3",
                        w.WeightFile(entry.filename, entry.url, entry.sha256_prefix, entry.env,
                                     sha256=wrong))
    with pytest.raises(GanvasError, match="expected " + wrong):
        w.resolve_weights("inception-v3")
    assert not list(w.cached_path("inception-v3").parent.iterdir())    # not kept
    monkeypatch.setitem(w.WEIGHTS._entries, "inception-v3",
                        w.WeightFile(entry.filename, entry.url, entry.sha256_prefix, entry.env,
                                     sha256=digest))
    got = w.resolve_weights("inception-v3")
    assert got.official and got.sha256 == digest
    assert w.WEIGHTS.get("inception-v3").matches(digest)
    assert not w.WEIGHTS.get("inception-v3").matches(wrong)


def test_the_published_entries_keep_their_prefix_check():
    for name in w.WEIGHTS.names():
        entry = w.WEIGHTS.get(name)
        assert entry.sha256_prefix in entry.filename
        assert entry.sha256 == "" or (len(entry.sha256) == 64
                                      and entry.sha256.startswith(entry.sha256_prefix))


def test_the_bytes_loaded_are_the_bytes_hashed(tmp_path):
    path = tmp_path / "a.pth"
    torch.save({"x": torch.ones(3)}, path)
    resolved = w.resolve_weights("inception-v3", path)
    torch.save({"x": torch.zeros(3)}, path)          # swapped after the check
    state = w.load_state_dict(resolved)
    assert torch.equal(state["x"], torch.ones(3))
    assert resolved.sha256 == hashlib.sha256(resolved.data).hexdigest()


def test_a_download_above_the_cap_is_refused(monkeypatch, inception_file):
    serve_as(monkeypatch, "inception-v3", inception_file)
    monkeypatch.setattr(w, "MAX_DOWNLOAD_BYTES", 1000)
    with pytest.raises(GanvasError, match="refusing to download.*declared"):
        w.resolve_weights("inception-v3")                 # file:// sends a Content-Length
    monkeypatch.setattr(download, "check_length", lambda *args: None)   # a lying server
    with pytest.raises(GanvasError, match="refusing to download.*more than"):
        w.resolve_weights("inception-v3")
    assert not list(w.cached_path("inception-v3").parent.iterdir())


def test_published_weight_files_are_pinned_by_their_full_sha256():
    for name in w.WEIGHTS.names():
        entry = w.WEIGHTS.get(name)
        assert len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0, name
        assert entry.sha256.startswith(entry.sha256_prefix), name
