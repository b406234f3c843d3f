"""Input checks shared by the public functions.

Every problem raises :class:`ValueError` with a message that names it; nothing
is dropped or coerced silently.
"""
from __future__ import annotations

import contextlib
import contextvars
from statistics import NormalDist

import numpy as np

# Set by callers that have already checked a whole block for NaN and inf (the
# simulator checks each generated block once instead of once per metric call).
_FINITE_CHECKED = contextvars.ContextVar("scedsim_finite_checked", default=False)


@contextlib.contextmanager
def assume_finite():
    """Skip the per-call NaN/inf scan inside this block; the caller vouches for the data."""
    token = _FINITE_CHECKED.set(True)
    try:
        yield
    finally:
        _FINITE_CHECKED.reset(token)

IMPROVEMENTS = ("increase", "decrease")


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``; raise a ValueError naming them otherwise."""
    if not isinstance(value, str) or value not in choices:
        opts = ", ".join(repr(c) for c in choices)
        raise ValueError(f"unknown {name} {value!r}; expected one of {opts}")
    return value


def z_for(confidence) -> float:
    """Two-sided normal quantile for a confidence level in (0, 1)."""
    try:
        c = float(confidence)
    except (TypeError, ValueError):
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}") from None
    if not 0.0 < c < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return NormalDist().inv_cdf(0.5 + c / 2.0)


def _as_float_array(x, label: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        if arr.dtype.kind == "O":
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"phase {label} holds non-numeric data") from None
        else:
            raise ValueError(f"phase {label} holds non-numeric data (dtype {arr.dtype})")
    return np.ascontiguousarray(arr, dtype=np.float64)


def _check_finite(arr: np.ndarray, label: str, batch: bool) -> None:
    # One summing pass finds NaN/inf; the element-wise check runs only to tell an
    # overflowing (but finite) sum from a real NaN or inf.
    with np.errstate(over="ignore", invalid="ignore"):
        total = arr.sum()
    if arr.size and not np.isfinite(total):
        bad = ~np.isfinite(arr)
        if bad.any():
            where = np.argwhere(bad)[0]
            what = "NaN" if np.isnan(arr[tuple(where)]) else "an infinite value"
            pos = f"position {where[-1]}" + (f" of row {where[0]}" if batch else "")
            raise ValueError(f"phase {label} contains {what} at {pos}; "
                             "remove or impute missing values before calling")


def phases(a, b, improvement: str, *, min_a: int = 1, min_b: int = 1, metric: str = ""):
    """Validate and orient two phases.

    Returns ``(a2, b2, is_1d)``: C-contiguous float64 arrays of shape
    ``(rows, m)`` and ``(rows, n)``, negated for ``improvement="decrease"`` so
    that higher is better, and whether the inputs were 1-D.
    """
    check_choice("improvement", improvement, IMPROVEMENTS)
    a = _as_float_array(a, "A")
    b = _as_float_array(b, "B")
    if a.ndim != b.ndim or a.ndim not in (1, 2):
        raise ValueError(
            "a and b must both be 1-D (one series) or both 2-D (one series per row); "
            f"got {a.ndim}-D and {b.ndim}-D")
    is_1d = a.ndim == 1
    if is_1d:
        a = a.reshape(1, -1)
        b = b.reshape(1, -1)
    elif a.shape[0] != b.shape[0]:
        raise ValueError(
            f"a and b must have the same number of rows (series); got {a.shape[0]} and {b.shape[0]}")
    m, n = a.shape[1], b.shape[1]
    if m == 0:
        raise ValueError("phase A is empty")
    if n == 0:
        raise ValueError("phase B is empty")
    what = f"{metric} " if metric else ""
    if m < min_a:
        raise ValueError(f"{what}needs at least {min_a} points in phase A, got {m}")
    if n < min_b:
        raise ValueError(f"{what}needs at least {min_b} points in phase B, got {n}")
    if not _FINITE_CHECKED.get():
        _check_finite(a, "A", not is_1d)
        _check_finite(b, "B", not is_1d)
    if improvement == "decrease":
        a = -a
        b = -b
    return a, b, is_1d


def session_times(times, rows: int, m: int, n: int, *, metric: str, coef=None) -> np.ndarray:
    """Validate the session times of a time-based metric; return ``(rows or 1, m + n)`` float64.

    ``times`` is None (the positions 1..m+n), one sequence of m + n times (A's
    then B's, shared by every row), a pair ``(times_a, times_b)``, or a 2-D
    array with one row of m + n times per series.  Times must be finite whole
    numbers (session or day numbers; rescale fractional times, which changes
    none of these metrics), strictly increasing, with A before B.  Ties are
    decided in exact arithmetic on integer combinations of the times, so the
    largest coefficient, ``coef(span)``, must stay below 2**53.
    """
    big = m + n
    if times is None:
        t = np.arange(1.0, big + 1.0).reshape(1, big)
    else:
        if isinstance(times, tuple) and len(times) == 2 and all(np.ndim(x) >= 1 for x in times):
            ta, tb = (np.asarray(x) for x in times)
            if ta.ndim != tb.ndim:
                raise ValueError(f"{metric} times: times_a and times_b must have the same dimensions")
            t = np.concatenate([ta, tb], axis=-1)
        else:
            t = np.asarray(times)
        if t.dtype.kind not in "iuf":
            try:
                t = t.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"{metric} times must be numbers") from None
        t = np.ascontiguousarray(t, dtype=np.float64)
        if t.ndim == 1:
            t = t.reshape(1, -1)
        if t.ndim != 2 or t.shape[1] != big or t.shape[0] not in (1, rows):
            raise ValueError(f"{metric} times must hold one time per point, m + n = {big} "
                             f"(one row, or one per series: {rows}); got shape {np.shape(times)}")
        if not np.all(np.isfinite(t)):
            raise ValueError(f"{metric} times contain NaN or an infinite value")
        if np.any(t != np.round(t)):
            raise ValueError(f"{metric} times must be whole numbers (session numbers); rescale "
                             "fractional times, e.g. half days to whole ones")
        if big > 1 and np.any(np.diff(t, axis=1) <= 0):
            raise ValueError(f"{metric} times must be strictly increasing, A's before B's")
    span = float(np.max(t[:, -1] - t[:, 0]))
    if coef is not None and coef(span) >= 2.0 ** 53:
        raise ValueError(f"{metric}: the times span {span:g} sessions, too long for exact tie "
                         "decisions; shift or thin the time axis")
    return t
