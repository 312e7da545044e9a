"""A read-only folder under every verb that writes (issue 31): a path the user gave that
cannot be used is exit 2, one line naming that path (never a temporary), nothing written and
nothing earlier lost. The folder is a tmpfs remounted read-only (root ignores chmod), or a
folder chmod 0555 when the tests do not run as root (tests/hostile/disks.py)."""

from __future__ import annotations

import pytest

from tests.hostile import disks as shared
from tests.hostile.disks import CASES, contents, error_line

disks, inputs = shared.disks, shared.inputs       # the fixtures

TRAINING = {
    "train": (lambda i, run, d: ["train", i["toy"], "--out", d / "runs", "--model", "dcgan-tiny",
                                 "--kimg", "0.032", "--batch", "16"], "runs", {}),
    "tune": (lambda i, run, d: ["tune", i["toy"], "--out", d / "t", "--model", "dcgan-tiny",
                                "--trials", "1", "--kimg-per-trial", "0.032", "--metric", "swd"],
             "t", {}),
    "prepare-over-an-archive": (lambda i, run, d: ["prepare", i["pics"], d / "p.zip"],
                                "p.zip", {"p.zip": shared.EARLIER}),
}


@pytest.mark.parametrize("verb", {**CASES, **TRAINING})
def test_a_read_only_folder_is_one_line_exit_2_naming_the_users_path(verb, inputs, tiny_run,
                                                                    disks, capsys):
    argv, destination, earlier = {**CASES, **TRAINING}[verb]
    disk = disks.read_only(earlier)
    line = error_line(argv(inputs, tiny_run, disk), capsys, code=2)
    assert "cannot" in line and str(disk / destination) in line, line
    assert ".tmp" not in line and "/." not in line                 # no temporary named
    assert contents(disk) == {**{name.split("/")[0]: b"/" for name in earlier if "/" in name},
                              **earlier}
