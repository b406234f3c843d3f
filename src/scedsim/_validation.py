"""Input checks shared by the public functions.

Every problem raises :class:`ValueError` with a message that names it; nothing
is dropped or coerced silently.
"""
from __future__ import annotations

import contextlib
import contextvars
import numbers
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


def check_confidence(confidence) -> float:
    """Return a confidence level in (0, 1) as a float.

    Only real numbers are accepted: a string such as ``'0.9'`` (from a file or
    a form) is refused rather than converted, so that every public function
    treats it the same way; convert with ``float()`` first.
    """
    if isinstance(confidence, (str, bytes, bool, np.bool_)) or not isinstance(confidence, numbers.Real):
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")
    c = float(confidence)
    if not 0.0 < c < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return c


def check_int(name: str, value, minimum: int | None = None) -> int:
    """Return ``value`` as an int if it is a whole number (not a bool, float or string).

    ``min_phase=3.5`` or ``'3'`` is refused instead of being truncated silently.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    v = int(value)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {v}")
    return v


def z_for(confidence) -> float:
    """Two-sided normal quantile for a confidence level in (0, 1)."""
    return NormalDist().inv_cdf(0.5 + check_confidence(confidence) / 2.0)


def as_numeric(x, what: str) -> np.ndarray:
    """``np.asarray(x)`` with a numeric dtype; strings are refused, not parsed.

    An object array (e.g. a pandas column of mixed types) is converted only
    if it holds no strings: ``np.array(['1', '2'], dtype=object)`` would
    otherwise be parsed silently by ``astype(float)``.
    """
    arr = np.asarray(x)
    if arr.dtype.kind in "iuf":
        return arr
    if arr.dtype.kind == "O":
        flat = arr.ravel()
        for i, v in enumerate(flat):
            if v is None:
                continue  # a missing value: NaN, reported as such by the NaN check
            if isinstance(v, (str, bytes, bool, np.bool_)) or not isinstance(v, numbers.Real):
                raise ValueError(f"{what} holds non-numeric data ({v!r} at position {i}); "
                                 "convert to numbers first")
        return np.array([np.nan if v is None else v for v in flat], dtype=np.float64).reshape(arr.shape)
    raise ValueError(f"{what} holds non-numeric data (dtype {arr.dtype})")


def _as_float_array(x, label: str) -> np.ndarray:
    return np.ascontiguousarray(as_numeric(x, f"phase {label}"), dtype=np.float64)


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
    a, b, is_1d = phase_arrays(a, b, improvement, min_a=min_a, min_b=min_b, metric=metric)
    check_finite(a, b, is_1d)
    if improvement == "decrease":
        a = -a
        b = -b
    return a, b, is_1d


def phase_arrays(a, b, improvement: str, *, min_a: int = 1, min_b: int = 1, metric: str = ""):
    """The checks of :func:`phases` that need no pass over the data.

    Returns ``(a2, b2, is_1d)`` as :func:`phases` does, but neither scanned for
    NaN and inf nor negated for ``improvement="decrease"``.  It serves kernels
    that read each value once anyway: they orient the values as they read
    them and report a non-finite one, and the caller then calls
    :func:`check_finite`, which raises the error :func:`phases` would have
    raised.  Every check here comes before the NaN scan in :func:`phases`, so
    a bad call meets the same error first either way.
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
    return a, b, is_1d


def check_finite(a: np.ndarray, b: np.ndarray, is_1d: bool) -> None:
    """Raise the ValueError of :func:`phases` for the first NaN or inf (phase A
    first), unless the caller is inside :func:`assume_finite`."""
    if not _FINITE_CHECKED.get():
        _check_finite(a, "A", not is_1d)
        _check_finite(b, "B", not is_1d)


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
        try:
            t = as_numeric(t, f"{metric} times")
        except ValueError as exc:
            raise ValueError(f"{metric} times must be numbers: {exc}") from None
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


def check_nonnegative(metric: str, A: np.ndarray, B: np.ndarray, is_1d: bool) -> None:
    """Refuse negative data for a log ratio (LRR, LRM).

    A log ratio of means or medians compares magnitudes of counts, rates or
    proportions; a negative mean has no logarithm (LRR's truncation floor would
    turn it into a large value of the wrong sign), and a positive median of
    data that include negative values is no ratio-scale quantity either.
    """
    for label, x in (("A", A), ("B", B)):
        if x.size and x.min() < 0.0:
            r, i = np.argwhere(x < 0.0)[0]
            where = f"position {i}" + ("" if is_1d else f" of row {r}")
            raise ValueError(f"{metric} needs non-negative data (counts, rates, proportions or percentages); "
                             f"phase {label} holds {x[r, i]:g} at {where}")


#: Data magnitudes a metric that squares its data can take without overflow
#: (above ~1e154) or underflow (below ~1e-154) of the squares, with margin for
#: sums of many squares and for products of squares (PLM's normal equations).
MAGNITUDE_RANGE = (1e-100, 1e100)


def check_magnitude(metric: str, *arrays) -> None:
    """Refuse data whose magnitude would overflow or underflow a metric's squares.

    ``arrays`` are batches with one series per row along the first axis; a row
    whose largest magnitude lies outside :data:`MAGNITUDE_RANGE` (all-zero rows
    excepted) is refused with a ValueError that asks for rescaling.  The
    metrics that call this are scale-free (PoGO, PLM's standardized effects,
    the BC-SMD) or scale-equivariant, so rescaling loses nothing.
    """
    lo, hi = MAGNITUDE_RANGE
    # Fast path, the same verdict: no row can be refused when no value is above
    # hi in magnitude and none is a nonzero below lo.  Elementwise passes over the
    # whole batch are several times cheaper than max/min along rows of 3-20 points.
    clean = True
    for x in arrays:
        a = np.abs(np.asarray(x, dtype=np.float64))
        if a.size and not (a.max() <= hi and not ((a < lo) & (a > 0.0)).any()):
            clean = False   # NaN or an out-of-range value: the row-wise check decides
            break
    if clean:
        return
    big = None
    for x in arrays:
        x = np.asarray(x)
        if not x.size:
            continue
        x = x.reshape(x.shape[0], -1)
        row = np.maximum(x.max(axis=1), -x.min(axis=1))
        big = row if big is None else np.maximum(big, row)
    if big is None:
        return
    bad = (big > hi) | ((big > 0.0) & (big < lo))
    if bad.any():
        v = float(big[np.argmax(bad)])
        raise ValueError(f"{metric}: the data reach magnitude {v:.3g}, outside [{lo:g}, {hi:g}], where "
                         "its sums of squares overflow or underflow; rescale the data (e.g. change the unit)")


def parse_scalar(text: str):
    """A ``key=value`` option's value as typed on a command line or in a form: an
    int if it reads as one, else a float, else the text itself."""
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text
