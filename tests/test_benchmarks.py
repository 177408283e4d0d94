"""The benchmark scripts refuse values they would crash or hang on, in one line, before starting any work."""

from __future__ import annotations

import pytest

from .train.conftest import run_module


@pytest.mark.parametrize(("command", "message"), [
    (["benchmarks.load", "--seconds", "0"], "--seconds 0.0: expected a finite number above 0"),
    (["benchmarks.load", "--seconds", "inf"], "--seconds inf: expected a finite number above 0"),
    (["benchmarks.load", "--users", "0"], "--users 0 --photos 48: expected at least 1 of each"),
    (["benchmarks.photo_crops", "--margins", "0.1", "inf"], "--margins [0.1, inf]: expected each in [0, 1]"),
])
def test_bad_values_are_one_error_line(command: list[str], message: str) -> None:
    result = run_module(*command, timeout=120)
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    assert message in result.stderr.splitlines()[-1]
