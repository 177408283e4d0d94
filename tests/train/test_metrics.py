"""Metrics and the confusion-matrix figure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_confusion_figure_draws_without_pyplot_or_a_backend_switch(tmp_path: Path) -> None:
    """A bare matplotlib Figure: pyplot is never imported and the process-wide backend is left as it was."""
    script = f"""
import sys, matplotlib, numpy as np
matplotlib.use("svg")  # the caller's choice, which drawing a figure must not change
from train.metrics import confusion_figure
figure = confusion_figure(np.array([[3, 1], [0, 4]]), ["happy", "sad"], "test")
figure.savefig({str(tmp_path / "matrix.png")!r}, dpi=50)
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules, [t.get_text() for t in figure.axes[0].texts])
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(maxsplit=2) == ["svg", "False", "['3', '1', '0', '4']\n"]
    assert (tmp_path / "matrix.png").read_bytes().startswith(b"\x89PNG")
