"""Permutation tests: the exact null distribution over reassignments of the
observed values to the two phases."""
from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from functools import lru_cache

import numpy as np

from .._numba import kernel
from .._threads import run_rows
from .._validation import check_choice, phases
from ..registry import TestSpec, register_test
from ._result import ALT_CODES, ALTERNATIVES, TestResult, count_extreme, pvalue_from_counts
from ._stats import statistic_function

__all__ = ["permutation_test", "arrangements", "rank_null_pvalues", "MAX_EXACT"]

# Exact enumeration up to this many arrangements C(m + n, m); Monte Carlo beyond.
MAX_EXACT = 200_000
_ROW_CHUNK_VALUES = 4_000_000  # values per generic batch (rows x arrangements x points)
# Beyond MAX_EXACT, NAP and Tau stay exact through the rank-sum recursion while its
# cost per row, (m + n) (n + 1) (2 (m + n) n + 1) additions, stays below this.
DP_BUDGET = 60_000_000


def _dp_cost(m: int, n: int) -> int:
    return (m + n) * (n + 1) * (2 * (m + n) * n + 1)


def _rank_sum_counts(scores: np.ndarray, n: int) -> np.ndarray:
    """How many n-subsets of ``scores`` (non-negative integers) have each sum.

    The subset-sum recursion behind the exact Wilcoxon rank-sum distribution
    (Mann & Whitney 1947), here over twice the mid-ranks so that ties are
    exact: ``counts[s]`` for s = 0..sum of the n largest scores.  Counts are
    float64 (exact up to 2^53, then relative error ~1e-16).
    """
    top = int(np.sort(scores)[::-1][:n].sum())
    counts = np.zeros((n + 1, top + 1))
    counts[0, 0] = 1.0
    for w in scores.tolist():
        w = int(w)
        if w == 0:
            counts[1:] = counts[1:] + counts[:-1]
        elif w <= top:
            # Right-hand side first: each score is used at most once.
            counts[1:, w:] = counts[1:, w:] + counts[:-1, :top + 1 - w]
    return counts[n]


@lru_cache(maxsize=64)
def _untied_counts(m: int, n: int) -> np.ndarray:
    out = _rank_sum_counts(2 * np.arange(1, m + n + 1), n)
    out.flags.writeable = False
    return out


def _perm_u_dp(A: np.ndarray, B: np.ndarray, alt: int, tau: bool) -> tuple[np.ndarray, np.ndarray]:
    """Exact permutation p-values of NAP/Tau from the rank-sum recursion, one row at a time.

    2U = (sum of twice the mid-ranks of B) - n (n + 1): the exact null of 2U
    over the C(m + n, m) reassignments (ties included) is that of a sum of n
    of the pooled twice-mid-ranks, which :func:`_rank_sum_counts` counts.
    Gives the same p-values as enumerating the arrangements.
    """
    rows, m = A.shape
    n = B.shape[1]
    p = np.empty(rows)
    stat = np.empty(rows)
    for r in range(rows):
        pooled = np.concatenate([A[r], B[r]])
        # Twice the mid-ranks: integers (lo + hi for a tie group at positions lo..hi, 1-based).
        order = np.sort(pooled)
        lo = np.searchsorted(order, pooled, side="left") + 1
        hi = np.searchsorted(order, pooled, side="right")
        r2 = (lo + hi).astype(np.int64)
        tied = np.unique(pooled).size < pooled.size
        counts = _rank_sum_counts(r2, n) if tied else _untied_counts(m, n)
        obs = int(r2[m:].sum())
        total = counts.sum()
        n_ge = counts[obs:].sum()
        n_le = counts[:obs + 1].sum()
        if alt == 0:
            p[r] = n_ge / total
        elif alt == 1:
            p[r] = n_le / total
        else:
            p[r] = min(1.0, 2.0 * min(n_ge, n_le) / total)
        nap = (obs - n * (n + 1)) / (2.0 * m * n)
        stat[r] = 2.0 * nap - 1.0 if tau else nap
    return stat, p


def _byte_budget_cache(max_bytes: int):
    """Like ``lru_cache``, but bounded by the bytes of the cached arrays rather than by
    their number: a planner's grid visits hundreds of small designs (35 arrangements
    at 3 + 4 points), while one design of 20 points holds 184,756 (30 MB)."""
    def deco(fn):
        cache: OrderedDict = OrderedDict()
        size = [0]

        def wrapper(*args):
            hit = cache.get(args)
            if hit is not None:
                cache.move_to_end(args)
                return hit
            value = fn(*args)
            cache[args] = value
            size[0] += sum(x.nbytes for x in value)
            while size[0] > max_bytes and len(cache) > 1:
                _, old = cache.popitem(last=False)
                size[0] -= sum(x.nbytes for x in old)
            return value

        wrapper.__wrapped__ = fn
        wrapper.__doc__ = fn.__doc__
        wrapper.__name__ = fn.__name__
        wrapper.cache_clear = lambda: (cache.clear(), size.__setitem__(0, 0))
        return wrapper
    return deco


@_byte_budget_cache(256 * 2**20)
def arrangements(n_total: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Every way to choose the ``m`` baseline positions among ``n_total``:
    ``(idx_a, idx_b)`` of shapes ``(K, m)`` and ``(K, n_total - m)``, positions ascending.
    The first row is the observed assignment (A first).

    Under exchangeability each row is equally likely: these are the reference
    set of the permutation test (Edgington & Onghena 2007).

    References
    ----------
    Edgington, E. S., & Onghena, P. (2007). *Randomization tests* (4th ed.).
    Chapman & Hall/CRC.

    Examples
    --------
    >>> from scedsim.inference import arrangements
    >>> idx_a, idx_b = arrangements(4, 2)
    >>> idx_a.tolist()
    [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    >>> idx_b.tolist()
    [[2, 3], [1, 3], [1, 2], [0, 3], [0, 2], [0, 1]]
    >>> arrangements(7, 3)[0].shape   # C(7, 3) = 35
    (35, 3)
    """
    combos = np.array(list(itertools.combinations(range(n_total), m)), dtype=np.int64).reshape(-1, m)
    mask = np.ones((combos.shape[0], n_total), dtype=bool)
    np.put_along_axis(mask, combos, False, axis=1)
    rest = np.nonzero(mask)[1].reshape(combos.shape[0], n_total - m)
    combos.flags.writeable = False
    rest.flags.writeable = False
    return combos, rest


def _perm_u_2d_python(a, b, idx_a, idx_b, ge_table, le_table, alt, tau, out):
    """Exact permutation p-values for the Mann-Whitney U (NAP, Tau) of each row.

    ``out`` is ``(2, rows)``: the p-value (``alt`` 0 greater, 1 less, 2 two-sided
    as twice the smaller tail, capped at 1) and the observed NAP (Tau with
    ``tau``).  Rows without ties use the tables (counts over the C(N, m) rank
    arrangements of 2U >= t and 2U <= t); rows with ties enumerate every
    arrangement of their own values.
    """
    rows, m = a.shape
    n = b.shape[1]
    big = m + n
    k_total = idx_a.shape[0]
    pooled = np.empty(big)
    for r in range(rows):
        obs = 0
        tied = False
        for i in range(m):
            ai = a[r, i]
            for j in range(n):
                gt = int(b[r, j] > ai)
                ge = int(b[r, j] >= ai)
                obs += gt + ge
                if ge != gt:
                    tied = True
        # Ties within a phase also change the null distribution.
        if not tied:
            for i in range(m):
                for k in range(i + 1, m):
                    if a[r, i] == a[r, k]:
                        tied = True
            for j in range(n):
                for k in range(j + 1, n):
                    if b[r, j] == b[r, k]:
                        tied = True
        if not tied:
            n_ge = ge_table[obs]
            n_le = le_table[obs]
        else:
            for i in range(m):
                pooled[i] = a[r, i]
            for j in range(n):
                pooled[m + j] = b[r, j]
            n_ge = 0.0
            n_le = 0.0
            for k in range(k_total):
                u = 0
                for i in range(m):
                    x = pooled[idx_a[k, i]]
                    for j in range(n):
                        y = pooled[idx_b[k, j]]
                        u += int(y > x) + int(y >= x)
                n_ge += int(u >= obs)
                n_le += int(u <= obs)
        if alt == 0:
            p = n_ge / k_total
        elif alt == 1:
            p = n_le / k_total
        else:
            p = min(1.0, 2.0 * min(n_ge, n_le) / k_total)
        out[0, r] = p
        nap = obs / (2.0 * m * n)
        out[1, r] = 2.0 * nap - 1.0 if tau else nap


_perm_u_2d = kernel(_perm_u_2d_python)


@lru_cache(maxsize=1024)  # 2mn + 1 counts each: small
def _u_tables(m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """For data without ties: over the C(m + n, m) rank arrangements, how many have
    2U >= t and 2U <= t, for t = 0..2mn."""
    idx_a, idx_b = arrangements(m + n, m)
    ranks = np.arange(m + n, dtype=np.float64)
    a = ranks[idx_a]
    b = ranks[idx_b]
    twice = 2 * (b[:, None, :] > a[:, :, None]).sum(axis=(1, 2))
    counts = np.bincount(twice, minlength=2 * m * n + 1).astype(np.float64)
    ge = np.cumsum(counts[::-1])[::-1].copy()
    le = np.cumsum(counts)
    ge.flags.writeable = False
    le.flags.writeable = False
    return ge, le


def permutation_test(a, b, *, statistic="nap", improvement: str = "increase", alternative: str = "greater",
                     method: str = "auto", n_resamples: int = 9999, max_exact: int = MAX_EXACT, rng=None,
                     return_distribution: bool = False, options: dict | None = None) -> TestResult:
    """Permutation test of a phase difference: the null distribution comes from
    reassigning the observed values (ties included) to the two phases.

    Under the null hypothesis that the phases are exchangeable, each of the
    C(m + n, m) assignments of the pooled values to m baseline and n treatment
    positions is equally likely (Edgington & Onghena 2007).  For the
    Mann-Whitney family (``"nap"``, ``"tau"``) this is the exact Wilcoxon
    rank-sum test: rows without ties use a null table computed once per (m, n);
    rows with ties enumerate their own arrangements in a numba kernel.  Other
    statistics are computed over every arrangement with batched calls (values
    keep their time order within each phase).  Beyond ``max_exact``
    arrangements, NAP and Tau use the exact recursion for the rank-sum
    distribution (over twice the mid-ranks, so ties stay exact) instead of
    Monte Carlo.

    Parameters
    ----------
    a, b : array_like
        Baseline and treatment phases: 1-D, or 2-D with one series per row.
    statistic : str or callable
        Any metric name (``"nap"``, ``"ird"``, ``"pnd"``, ...), ``"mean_diff"``,
        ``"median_diff"``, or ``f(a, b) -> float``.  Computed on data oriented so
        that larger means improvement.
    improvement : {"increase", "decrease"}
    alternative : {"greater", "less", "two-sided"}
        ``"greater"`` is the direction of improvement; two-sided doubles the
        smaller one-sided p (capped at 1).
    method : {"auto", "exact", "monte_carlo"}
        ``"auto"``: exact when C(m + n, m) <= ``max_exact``; for ``"nap"`` and
        ``"tau"`` also beyond, through the rank-sum recursion, while it is
        affordable (:data:`DP_BUDGET`), e.g. 12 + 12 or 30 + 30 points.  The
        result's ``method`` says which was used.
    n_resamples : int
        Monte Carlo resamples; p = (1 + count) / (1 + R).
    rng : numpy.random.Generator or int, optional
        Seed for the Monte Carlo form; results depend only on it.  Without
        one the generator is seeded by the data, so repeated calls on the same
        data give the same p-value.
    return_distribution : bool
        Attach the statistic over the reference set (exact: every arrangement,
        in :func:`arrangements` order; Monte Carlo: the resamples).
    options : dict, optional
        Keyword options of a metric statistic.

    Returns
    -------
    TestResult
        ``min_pvalue`` is 1/C(m + n, m) for an exact test (1/35 for 3 + 4
        points), reached only by complete separation without ties.

    Notes
    -----
    Statistics within a relative 1e-9 of the observed one count as equal to it.

    References
    ----------
    Edgington, E. S., & Onghena, P. (2007). *Randomization tests* (4th ed.).
    Chapman & Hall/CRC.

    Mann, H. B., & Whitney, D. R. (1947). On a test of whether one of two
    random variables is stochastically larger than the other. *The Annals of
    Mathematical Statistics*, 18(1), 50-60.

    Examples
    --------
    Complete nonoverlap with 3 + 4 points is the most extreme of the 35
    arrangements, p = 1/35:

    >>> from scedsim.inference import permutation_test
    >>> r = permutation_test([3, 4, 3], [6, 7, 5, 8])
    >>> r.statistic, round(r.pvalue * 35, 6), r.n_arrangements
    (1.0, 1.0, 35)

    The first example of Parker, Vannest & Davis (2011): 8 of the 1716
    arrangements give a NAP at least as large as the observed 38.5/42.

    >>> a = [20, 20, 26, 25, 22, 23]
    >>> b = [28, 25, 24, 27, 30, 30, 29]
    >>> r = permutation_test(a, b)
    >>> round(r.pvalue * 1716, 6), r.n_arrangements
    (8.0, 1716)
    >>> round(permutation_test(a, b, alternative="two-sided").pvalue * 1716, 6)
    16.0
    """
    check_choice("alternative", alternative, ALTERNATIVES)
    check_choice("method", method, ("auto", "exact", "monte_carlo"))
    name, f = statistic_function(statistic, options, improvement)
    A, B, is_1d = phases(a, b, improvement, metric="permutation test")
    rows, m = A.shape
    n = B.shape[1]
    k_total = math.comb(m + n, m)
    rank_fast = name in ("nap", "tau") and not options and not return_distribution
    if rank_fast and method != "monte_carlo" and k_total > max_exact and _dp_cost(m, n) <= DP_BUDGET:
        # Too many arrangements to enumerate, but the rank-sum recursion is exact and cheap.
        stat, p = _perm_u_dp(A, B, ALT_CODES[alternative], name == "tau")
        return _pack(stat, p, k_total, 1.0 / k_total, "exact", alternative, None, is_1d)
    exact = method == "exact" or (method == "auto" and k_total <= max_exact)
    if exact and k_total > 50 * max_exact:
        raise ValueError(f"{k_total} arrangements are too many to enumerate; use method='monte_carlo'")
    if exact:
        if name in ("nap", "tau") and not options and not return_distribution:
            idx_a, idx_b = arrangements(m + n, m)
            ge_t, le_t = _u_tables(m, n)
            out = np.empty((2, rows))
            run_rows(_perm_u_2d, A, B, out, idx_a, idx_b, ge_t, le_t, ALT_CODES[alternative], name == "tau")
            return _pack(out[1], out[0], k_total, 1.0 / k_total, "exact", alternative, None, is_1d)
    # Ties are judged relative to the data's magnitude (the rank fast path above needs no scale).
    scale = np.fmax(np.abs(A).max(axis=1), np.abs(B).max(axis=1))
    if exact:
        idx_a, idx_b = arrangements(m + n, m)
        observed = f(A, B)
        null = _null_statistics(A, B, f, k_total,
                                lambda rows_: (np.broadcast_to(idx_a, (rows_, k_total, m)),
                                               np.broadcast_to(idx_b, (rows_, k_total, n))))
        ge, le, k_def = count_extreme(null, observed, alternative, data_scale=scale)
        p = pvalue_from_counts(ge, le, k_def, alternative, observed=observed)
        return _pack(observed, p, k_total, 1.0 / k_total, "exact", alternative,
                     null if return_distribution else None, is_1d)
    # Monte Carlo: R random reassignments per row.
    r_count = int(n_resamples)
    if r_count < 1:
        raise ValueError(f"n_resamples must be positive, got {n_resamples}")
    if isinstance(rng, np.random.Generator):
        g = rng
    else:
        # Without a seed the generator is seeded by the data, so the same data always
        # give the same p-value (a fresh random seed gave a different one per call).
        g = np.random.default_rng(rng) if rng is not None else data_rng(A, B)
    observed = f(A, B)

    def random_positions(rows_):
        perm = g.permuted(np.broadcast_to(np.arange(m + n), (rows_, r_count, m + n)), axis=2)
        return np.sort(perm[:, :, :m], axis=2), np.sort(perm[:, :, m:], axis=2)

    null = _null_statistics(A, B, f, r_count, random_positions)
    ge, le, r_def = count_extreme(null, observed, alternative, data_scale=scale)
    p = pvalue_from_counts(ge, le, r_def, alternative, plus_one=True, observed=observed)
    return _pack(observed, p, r_count + 1, 1.0 / (r_count + 1), "monte_carlo", alternative,
                 null if return_distribution else None, is_1d)


def _null_statistics(A, B, f, count, positions):
    """The statistic over ``count`` reassignments per row, computed in row chunks.

    ``positions(rows)`` gives the baseline and treatment positions of each
    reassignment, shapes ``(rows, count, m)`` and ``(rows, count, n)``, ascending
    so that values keep their time order within each phase.
    """
    rows, m = A.shape
    n = B.shape[1]
    pooled = np.concatenate([A, B], axis=1)
    null = np.empty((rows, count))
    step = max(1, _ROW_CHUNK_VALUES // (count * (m + n)))
    for lo in range(0, rows, step):
        hi = min(rows, lo + step)
        pa, pb = positions(hi - lo)
        va = np.take_along_axis(pooled[lo:hi, None, :], pa, axis=2).reshape(-1, m)
        vb = np.take_along_axis(pooled[lo:hi, None, :], pb, axis=2).reshape(-1, n)
        null[lo:hi] = f(np.ascontiguousarray(va), np.ascontiguousarray(vb)).reshape(hi - lo, count)
    return null


def _pack(observed, p, n, min_p, method, alternative, null, is_1d):
    if is_1d:
        return TestResult(float(observed[0]), float(p[0]), int(n), min_p, method, alternative,
                          None if null is None else null[0])
    return TestResult(np.asarray(observed), np.asarray(p), int(n), min_p, method, alternative, null)


@lru_cache(maxsize=128)
def _rank_null_cached(m: int, n: int, statistic: str, alternative: str, options_items: tuple) -> np.ndarray:
    idx_a, idx_b = arrangements(m + n, m)
    ranks = np.arange(m + n, dtype=np.float64)
    out = permutation_test(ranks[idx_a], ranks[idx_b], statistic=statistic, alternative=alternative,
                           method="exact", options=dict(options_items) or None).pvalue
    out = np.asarray(out)
    out.flags.writeable = False
    return out


def rank_null_pvalues(m: int, n: int, statistic: str = "nap", alternative: str = "greater",
                      options: dict | None = None, max_arrangements: int = 5000) -> np.ndarray | None:
    """The exact permutation p-value of every arrangement of m + n distinct values.

    Under the null (exchangeable, continuous data) each of the C(m + n, m)
    arrangements is equally likely, so this array is the null distribution of
    the p-value itself: its minimum is the smallest p the test can give for the
    design, and ``mean(p <= alpha)`` its exact size at level alpha.  Returns None
    when there are more than ``max_arrangements`` arrangements (or for a callable
    statistic).

    References
    ----------
    Edgington, E. S., & Onghena, P. (2007). *Randomization tests* (4th ed.).
    Chapman & Hall/CRC.

    Examples
    --------
    With 3 + 4 points the rank tests reject at .05 only in the one arrangement
    of complete nonoverlap, so their exact size is 1/35:

    >>> import numpy as np
    >>> from scedsim.inference import rank_null_pvalues
    >>> p = rank_null_pvalues(3, 4)
    >>> p.size, round(float(p.min()) * 35, 6), round(float(np.mean(p <= 0.05)) * 35, 6)
    (35, 1.0, 1.0)
    >>> rank_null_pvalues(10, 10) is None   # C(20, 10) = 184756 arrangements
    True
    """
    if callable(statistic) or math.comb(m + n, m) > max_arrangements:
        return None
    return _rank_null_cached(int(m), int(n), statistic, alternative, tuple(sorted((options or {}).items())))


# --------------------------------------------------------------------------- registry entry

def data_rng(a: np.ndarray, b: np.ndarray) -> np.random.Generator:
    """A generator seeded by the data: Monte Carlo p-values in a study then depend
    only on the study's seed (through the data), never on chunks or workers."""
    import hashlib

    digest = hashlib.sha256(np.ascontiguousarray(a).tobytes() + np.ascontiguousarray(b).tobytes()).digest()
    return np.random.default_rng(np.random.SeedSequence(int.from_bytes(digest[:16], "little")))


def _perm_pvalues(a, b, improvement="increase", **options):
    if "rng" not in options:
        options["rng"] = data_rng(a, b)
    return permutation_test(a, b, improvement=improvement, **options).pvalue


_NOT_STAT_OPTIONS = ("statistic", "alternative", "method", "n_resamples", "max_exact", "rng")


def _perm_null(options: dict, m: int, n: int):
    """Null distribution of the p-value over rank arrangements for continuous data, or None
    (too many arrangements, or a statistic that is not rank-based, whose p-values
    depend on the values themselves)."""
    from ..registry import metrics

    entry = metrics().get(options["statistic"]) if isinstance(options["statistic"], str) else None
    if entry is None or not entry.rank:
        return None
    opts = {k: v for k, v in options.items() if k not in _NOT_STAT_OPTIONS}
    return rank_null_pvalues(m, n, options["statistic"], options.get("alternative", "greater"), opts or None)


def _perm_min_pvalue(options: dict, m: int, n: int, n_cases: int) -> float:
    null = _perm_null(options, m, n)
    if null is not None:
        return float(null.min())
    two = 2.0 if options.get("alternative") == "two-sided" else 1.0
    return min(1.0, two / math.comb(m + n, m))


register_test(TestSpec(name="perm_test", prefix="p_perm", pvalues=_perm_pvalues, min_pvalue=_perm_min_pvalue,
                       null_pvalues=_perm_null, needs=("statistic",)))
