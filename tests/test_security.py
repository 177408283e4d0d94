"""Source-level guarantees: weights are never unpickled from untrusted files."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("fer_model", "train", "space", "benchmarks", "devtools")
SOURCES = [p for folder in PACKAGES for p in (ROOT / folder).rglob("*.py")]


def test_no_pickle_and_no_torch_load_without_weights_only() -> None:
    offenders = []
    for path in SOURCES:
        text = path.read_text()
        if re.search(r"^\s*(import pickle|from pickle|import dill|import joblib)", text, re.MULTILINE):
            offenders.append(f"{path}: imports a pickle library")
        for call in re.finditer(r"torch\.load\(([^)]*)\)", text):
            if "weights_only=True" not in call.group(1):
                offenders.append(f"{path}: {call.group(0)}")
    assert SOURCES and not offenders, offenders
