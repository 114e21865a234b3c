"""What each quantization mode costs, on a small CNN trained here on scikit-learn's bundled digits (three
networks), ours and Google's converter side by side on the same networks and calibration samples
(``benchmarks/quant.py`` computes the table: test-set accuracy in LiteRT of float, dynamic range, float16, int8
with float / int8 / uint8 interfaces and 16x8 with float / int16 interfaces, agreement with the float model,
largest probability error, size, op versions)."""

from __future__ import annotations

import os
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

TEST_SAMPLES = 397  # the digits held out for testing (1797 - 1400)
INTEGER = ["int8", "int8_io_int8", "int8_io_uint8", "int16x8", "int16x8_io_int16"]


@pytest.fixture(scope="module")
def results(tf, keras):
    import quant

    out = quant.digits()
    print("\n" + quant.render({"digits": out}))
    return out


def test_float_model_learned(results):
    assert results["float"]["ours"] >= 0.9, results["float"]


@pytest.mark.parametrize("mode", [m for m in ("dynamic_range", "float16", *INTEGER)])
def test_each_mode_within_one_point_of_float(results, mode):
    base = results["float"]["ours"]
    assert results[mode]["ours"] >= base - 0.01, (mode, results[mode]["ours"], base)


@pytest.mark.parametrize("mode", INTEGER)
def test_integer_modes_as_close_to_float_as_googles_and_as_accurate(results, mode):
    """Closeness to the float model (top-1 agreement, largest probability error) at least Google's; test-set
    accuracy at least Google's less one test sample: on these three networks Google's int8, which departs from
    the float model 3x more often, happens to turn one wrong digit right. Accuracy at least Google's, with no
    allowance, is asserted over 50 networks (test_integer_accuracy_at_least_googles_over_50_networks)."""
    r = results[mode]
    assert r["ours_agree"] >= r["google_agree"], (mode, r["ours_agree"], r["google_agree"])
    assert r["ours_error"] <= r["google_error"] * 1.05 + 1e-3, (mode, r["ours_error"], r["google_error"])
    assert r["ours"] >= r["google"] - 1.0 / TEST_SAMPLES, (mode, r["ours"], r["google"])


@pytest.mark.parametrize("mode", ["dynamic_range", "float16", *INTEGER])
def test_no_larger_than_googles(results, mode):
    r = results[mode]
    assert r["ours_size"] <= r["google_size"], (mode, r["ours_size"], r["google_size"])


def test_op_versions_are_googles(results):
    """Per op kind running the same kernels (same input dtypes), our version is Google's, but for the 16x8
    versions we set deliberately higher (benchmarks/quant.py DELIBERATE)."""
    diffs = [d for r in results.values() for d in r["version_differences"] if "other dtypes" not in d]
    assert diffs == []


@pytest.mark.slow
def test_integer_accuracy_at_least_googles_over_50_networks(tf, keras):
    """On one network, ours and Google's int8 differ by the odd test digit that quantization noise turns either
    way (over 50 networks each is ahead on 14 and behind on 14). Over all 50 (19,850 test digits), with every
    interface: our int8 and 16x8 accuracy at least Google's, within 1 point of float, and ours departs from the
    float model no more often than Google's."""
    import quant

    r = quant.digits_networks()
    print("\n" + quant.render({"digits_networks": r}))
    assert r["networks"] == 50 and r["tests"] == 50 * TEST_SAMPLES
    for mode, m in r["modes"].items():
        assert m["ours"] >= m["google"], (mode, m)
        assert m["ours"] >= r["float"] - 0.01 * r["tests"], (mode, m, r["float"])
        assert m["ours_departures"] <= m["google_departures"], (mode, m)
