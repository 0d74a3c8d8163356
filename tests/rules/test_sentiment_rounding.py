"""The batch rounding behind a sentiment's value and reason is Python's own, value by value."""

from __future__ import annotations

import math
import random

import numpy as np

from rules.sentiment import rounded_signed, two_places


def awkward_values() -> list[float]:
    rng = random.Random(3)
    values = [rng.uniform(-1.0, 1.0) for _ in range(5000)]
    # half-way points and their neighbours, the signed zeros, tiny negatives, the ends
    for k in range(-1000, 1001):
        for d in (0.0005, 0.005):
            half = k / 1000 + d
            values += [half, math.nextafter(half, 2.0), math.nextafter(half, -2.0)]
    values += [0.0, -0.0, -1e-9, 1e-9, -0.004, -0.0049999, 1.0, -1.0, 0.125, -0.125, 0.995, -0.995]
    return values


def test_rounded_signed_is_round() -> None:
    values = awkward_values()
    got = rounded_signed(np.asarray(values), 3)
    want = [round(v, 3) for v in values]
    assert got == want
    assert [math.copysign(1.0, g) for g in got] == [math.copysign(1.0, w) for w in want]  # -0.0 stays -0.0


def test_two_places_is_format() -> None:
    values = awkward_values()
    assert two_places(np.asarray(values)) == [f"{v:+.2f}" for v in values]


def test_outside_the_range_and_nan_fall_back_to_python() -> None:
    values = np.asarray([1.5, -2.25, float("nan"), float("inf"), 12.345])
    assert two_places(values) == [f"{v:+.2f}" for v in values.tolist()]
    got = rounded_signed(values, 3)
    assert got[:2] == [1.5, -2.25] and math.isnan(got[2]) and got[3:] == [float("inf"), 12.345]
