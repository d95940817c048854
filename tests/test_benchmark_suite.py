"""The benchmark suite still runs the code it measures.

`make bench` is not part of this suite (it takes minutes and its figures depend on the
machine's speed), so a change that breaks a benchmark (a diagram step it does not answer, a
date a form now refuses) would go unseen until someone measured. Here each benchmark runs
once with a handful of instances (PATHWAYS_BENCH_SMOKE): every way through to its end, with
its checks of what was done and stored; not its timing targets.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.postgres
def test_every_benchmark_runs_to_its_end_with_a_handful_of_instances():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-o", "addopts=",
         str(ROOT / "tests" / "benchmarks")],
        cwd=ROOT, env={**os.environ, "PATHWAYS_BENCH_SMOKE": "1"},
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    # Each benchmark printed its figures: it ran, not skipped.
    for heading in ("nel_section17 happy path", "timers due at one instant", "TAF review cycles"):
        assert heading in result.stdout, result.stdout[-6000:]
