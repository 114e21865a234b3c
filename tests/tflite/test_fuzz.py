"""The fuzzer (``benchmarks/fuzz.py``) over everything that reads a .tflite file: a short seeded run here, the
20,000-run one among the slow tests, and every input a fuzz run ever found (``tests/data/fuzz``)."""

from __future__ import annotations

import json
import os
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import fuzz


@pytest.fixture(scope="module")
def seeds() -> dict[str, bytes]:
    return fuzz.seed_models()


def test_fuzz_regressions(tmp_path):
    """Every input a fuzz run ever found (tests/data/fuzz): each command ends well on each."""
    folder = os.path.join(ROOT, "tests", "data", "fuzz")
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    assert len(manifest) >= 15
    for name in sorted(manifest):
        with open(os.path.join(folder, name), "rb") as f:
            data = f.read()
        for o in fuzz.check_file(data, work=str(tmp_path / name)):
            assert o.problem is None, (name, manifest[name], o)


def test_short_seeded_fuzz_run():
    """A quick run of benchmarks/fuzz.py (the 20,000-run one is slow and in the benchmark note)."""
    report = fuzz.run(seed=7, runs=400, jobs=2)
    assert report.runs == 400
    assert report.failures == [] and report.crashes == 0
    codes = {k.split(":")[1] for k in report.exits}
    assert {"0", "1"} <= codes  # both valid and invalid inputs were reached


def test_fuzz_is_reproducible_from_seed_and_iteration(seeds):
    assert fuzz.mutate(seeds, 3, 11) == fuzz.mutate(fuzz.seed_models(), 3, 11)
    assert fuzz.mutate(seeds, 3, 11) != fuzz.mutate(seeds, 3, 12)


@pytest.mark.slow
def test_long_fuzz_run():
    report = fuzz.run(seed=1, runs=20_000, jobs=2)
    assert report.runs == 20_000 and report.failures == [] and report.crashes == 0, report.failures[:5]
