"""benchmarks/gpu_check.py on the CPU: a failing check is reported and the others still run,
and a cheap subset of the real checks passes with --device cpu --quick."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module
    spec.loader.exec_module(module)
    return module


def lines(capsys) -> list[dict]:
    return [json.loads(s) for s in capsys.readouterr().out.splitlines()]


def test_a_failing_check_is_reported_and_the_run_goes_on(gpu_check, capsys):
    def broken():
        raise RuntimeError("deliberate failure\nsecond line")

    def out_of_tolerance():
        raise gpu_check.CheckFailed("too far", {"max_abs": 1.5})

    code = gpu_check.main(["--device", "cpu", "--quick", "--only", "fp16"],
                          extra_checks=[("broken", broken), ("tolerance", out_of_tolerance),
                                        ("fine", lambda: {"value": 1})])
    records = lines(capsys)
    assert code == 1
    names = [r["check"] for r in records]
    assert names == ["env", "fp16_layers", "broken", "tolerance", "fine", "summary"]
    by_name = {r["check"]: r for r in records}
    assert by_name["broken"] == {"check": "broken", "ok": False,
                                 "error": "RuntimeError: deliberate failure",
                                 "seconds": by_name["broken"]["seconds"]}
    assert by_name["tolerance"]["ok"] is False and by_name["tolerance"]["max_abs"] == 1.5
    assert by_name["fine"]["ok"] is True and by_name["fine"]["value"] == 1
    assert by_name["fp16_layers"]["ok"] is True
    assert by_name["fp16_layers"]["fp16_taken"] is False      # no float16 blocks off CUDA
    summary = by_name["summary"]
    assert summary["ok"] is False and summary["failed"] == ["broken", "tolerance"]
    assert summary["passed"] == 2 and summary["total"] == 4


def test_quick_cpu_subset_passes(gpu_check, capsys):
    code = gpu_check.main(["--device", "cpu", "--quick", "--only",
                           "train/dcgan-tiny/fp32,generate/dcgan-tiny,interpolate/dcgan-tiny"])
    records = lines(capsys)
    assert code == 0, records
    assert [r["check"] for r in records] == ["env", "train/dcgan-tiny/fp32",
                                            "generate/dcgan-tiny", "interpolate/dcgan-tiny",
                                            "summary"]
    assert all(r["ok"] for r in records) and all("seconds" in r for r in records[1:])
    train = records[1]
    assert train["finite_weights"] and train["rollbacks"] == 0 and train["steps"] == 4
    assert records[2]["vs_cpu_max_levels"] == 0        # the CPU against itself


def test_every_family_has_its_checks_and_only_selects_by_prefix(gpu_check, tmp_path):
    from ganvas.models import MODELS
    import torch
    ctx = gpu_check.Context(device=torch.device("cpu"), quick=True, tmp=tmp_path)
    names = [n for n, _ in gpu_check.all_checks(ctx)]
    for family in MODELS.names():
        for verb in ("train", "resume", "generate", "interpolate", "project", "onnx"):
            assert any(n.startswith(f"{verb}/{family}-tiny") for n in names), (verb, family)
    selected = [n for n, _ in gpu_check.select(gpu_check.all_checks(ctx), "resume,features")]
    assert selected and all(n.startswith(("resume/", "features/")) for n in selected)
