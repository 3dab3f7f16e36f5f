"""Tolerances for float comparisons in the tests, derived from the precision's rounding and the
operands' magnitudes, so that a comparison passes on every CPU (any kernel, summation order or
SIMD width) and still fails on a real bug. Never a bare rtol.

- A dot product of length k in floating point with unit roundoff u (2**-24 for float32,
  2**-11 for float16), summed in any order, is within gamma_k * sum_i |a_i b_i| of the exact
  value, gamma_k = k u / (1 - k u) (Higham, Accuracy and Stability of Numerical Algorithms,
  2nd ed., section 3.1). Two implementations differ by at most twice that.
- A whole network: an FP32 (FP16) artifact is within FP32_BOUND (FP16_BOUND) of the action std of
  LeRobot's own output (the export's parity gate refuses any other; the torch inference module is
  held to the same bound by tests/policy), so two implementations of it differ by at most the
  sum of their bounds, times the std.
- Same kernel, same inputs: bitwise reproducible; and IEEE +, -, *, /, sqrt are correctly
  rounded, so one elementwise expression gives the same bits on every CPU. Such comparisons stay
  exact, with a comment saying which case they are.
"""

from __future__ import annotations

import numpy as np

from act_tool.export.pipeline import FP16_BOUND, FP32_BOUND

U32 = 2.0**-24  # float32 unit roundoff (round to nearest): half the spacing at 1.0
U16 = 2.0**-11  # float16 (also TF32, whose inputs keep a 10-bit mantissa)

__all__ = [
    "FP16_BOUND",
    "FP32_BOUND",
    "U16",
    "U32",
    "assert_within",
    "gamma",
    "matmul_bound",
    "network_bound",
]


def gamma(k: int, u: float = U32) -> float:
    """gamma_k = k u / (1 - k u): the relative bound of k successive roundings."""
    if k * u >= 1:
        raise ValueError(f"k = {k} roundings of u = {u} bound nothing (k u >= 1)")
    return k * u / (1 - k * u)


def matmul_bound(a: np.ndarray, b: np.ndarray, u: float = U32) -> np.ndarray:
    """Per element of a @ b, the most a floating-point product with unit roundoff u can differ
    from the exact one: gamma_k * (|a| @ |b|), k the inner dimension."""
    a64, b64 = np.abs(np.asarray(a, np.float64)), np.abs(np.asarray(b, np.float64))
    return gamma(a64.shape[-1], u) * (a64 @ b64)


def network_bound(std: np.ndarray, *bounds: float) -> np.ndarray:
    """Per action dimension, the most two implementations of the exported network may differ:
    each within its bound (FP32_BOUND, FP16_BOUND) of LeRobot, times the action std."""
    return sum(bounds) * np.asarray(std, np.float64)


def assert_within(got: np.ndarray, want: np.ndarray, bound: np.ndarray | float, what: str) -> None:
    """|got - want| <= bound element by element (in float64), with the worst case named."""
    diff = np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64))
    bound = np.broadcast_to(np.asarray(bound, np.float64), diff.shape)
    bad = ~(diff <= bound)  # NaN fails too
    if bad.any():
        i = np.unravel_index(np.argmax(np.where(bad, diff - bound, -np.inf)), diff.shape)
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {diff.size} elements beyond the rounding bound; "
            f"at {tuple(map(int, i))}: |{got[i]} - {want[i]}| = {diff[i]:.3g} > {bound[i]:.3g}"
        )
