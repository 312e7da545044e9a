"""The demo verb: trains on demo:emoji, writes a grid and a walk GIF."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ganvas.cli import main


@pytest.mark.slow
def test_demo_writes_grid_and_walk(tmp_path, capsys):
    assert main(["demo", "--minutes", "0.1", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert str(tmp_path / "grid.png") in printed and str(tmp_path / "walk.gif") in printed
    with Image.open(tmp_path / "grid.png") as im:
        assert im.size == (2 * (8 * 34 - 2),) * 2              # 8x8 seeds of 32px, 2px gaps
        grid = np.asarray(im.convert("RGB"))
    assert grid.std() > 5                                      # not a blank picture
    with Image.open(tmp_path / "walk.gif") as gif:
        assert gif.n_frames == 6 * 12 and gif.size == (256, 256)
        assert gif.info["loop"] == 0
    assert len(list((tmp_path / "runs").iterdir())) == 1
    # Six seconds train a few kimg: the demo says its pictures are still blobs, and how to
    # go on; warnings of the health monitor would be wolf cries (its warm-up is 5 kimg).
    assert "note: the demo trained" in printed and "still blobs" in printed
    assert "warning" not in printed
    # Again: the same run trains further.
    assert main(["demo", "--minutes", "0.05", "--out", str(tmp_path)]) == 0
    assert f"continuing {tmp_path / 'runs'}" in capsys.readouterr().out
    assert len(list((tmp_path / "runs").iterdir())) == 1
