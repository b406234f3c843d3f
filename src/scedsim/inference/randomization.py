"""Randomization tests for randomized single-case designs.

The p-value is the share of the admissible randomizations whose statistic is
at least the observed one (the observed randomization included), as in
Edgington & Onghena (2007), *Randomization Tests*, 4th ed.; Bulté & Onghena
(2008); and scan's ``rand_test``.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from .._validation import check_choice, check_int, phases
from ..registry import TestSpec, register_test
from ._result import ALTERNATIVES, TestResult, count_extreme, pvalue_from_counts
from ._stats import statistic_function

__all__ = ["randomization_test", "abab_test", "multiple_baseline_test", "multiple_baseline_pvalues",
           "admissible_starts"]

def admissible_starts(n_time: int, min_phase: int) -> np.ndarray:
    """Admissible baseline lengths of one AB series: both phases keep ``min_phase`` points.

    These are the intervention points among which an AB design with a random
    start point draws (Edgington 1975); each is equally likely under the
    randomization.

    References
    ----------
    Edgington, E. S. (1975). Randomization tests for one-subject operant
    experiments. *The Journal of Psychology*, 90(1), 57-68.

    Examples
    --------
    Seven occasions with at least two per phase leave four start points, so an
    AB randomization test there cannot give p below 1/4:

    >>> from scedsim.inference import admissible_starts
    >>> admissible_starts(7, 2).tolist()
    [2, 3, 4, 5]
    """
    min_phase = check_int("min_phase", min_phase, 1)
    n_time = check_int("n_time", n_time, 0)
    starts = np.arange(min_phase, n_time - min_phase + 1)
    if starts.size == 0:
        raise ValueError(f"a series of {n_time} points cannot keep {min_phase} points in each phase")
    return starts


def _split_stats(y: np.ndarray, starts: np.ndarray, f) -> np.ndarray:
    """(rows, len(starts)) statistic of every admissible split of every row of ``y``."""
    out = np.empty((y.shape[0], starts.size))
    for k, s in enumerate(starts):
        out[:, k] = f(np.ascontiguousarray(y[:, :s]), np.ascontiguousarray(y[:, s:]))
    return out


def randomization_test(a, b, *, statistic="mean_diff", improvement: str = "increase", min_phase: int = 2,
                       alternative: str = "greater", exclude_equal: bool = False,
                       return_distribution: bool = False, options: dict | None = None) -> TestResult:
    """Randomization test for an AB design with a randomly chosen intervention point.

    The reference set holds every intervention point that leaves at least
    ``min_phase`` points in each phase (the series is ``a`` then ``b`` in time
    order; the observed point is the length of ``a``).

    Parameters
    ----------
    a, b : array_like
        Baseline and treatment phases of one series (1-D) or of a batch of
        series with equal phase lengths (2-D, one per row).
    statistic : str or callable
        ``"mean_diff"`` (mean B - mean A), ``"median_diff"``, any metric name
        (``"nap"``, ``"ird"``, ...) or ``f(a, b) -> float``; computed on data
        oriented so that larger means improvement.
    improvement : {"increase", "decrease"}
    min_phase : int
        Smallest admissible phase length (scan's ``limit``).
    alternative : {"greater", "less", "two-sided"}
        ``"greater"`` is the direction of improvement; two-sided doubles the
        smaller one-sided p (capped at 1).
    exclude_equal : bool
        Count only randomizations strictly beyond the observed statistic
        (scan's ``exclude.equal = TRUE``; the observed one is then not counted
        and p can be 0).  Default False: at least as extreme, observed included.
    return_distribution : bool
        Attach the statistic of every admissible intervention point.
    options : dict, optional
        Keyword options for a metric statistic (e.g. ``{"method": "complete"}``).

    Returns
    -------
    TestResult
        With 7 points and ``min_phase=2`` there are 4 admissible points, so p
        cannot go below 1/4.

    Notes
    -----
    Statistics equal in exact arithmetic are equal here (relative tolerance
    1e-9); scan compares doubles and can split such ties.

    References
    ----------
    Edgington, E. S., & Onghena, P. (2007). *Randomization tests* (4th ed.).
    Chapman & Hall/CRC.

    Bulté, I., & Onghena, P. (2008). An R package for single-case randomization
    tests. *Behavior Research Methods*, 40(2), 467-478.

    Examples
    --------
    With 3 + 4 points and at least two per phase, the observed start is one of
    four; it gives the largest mean difference, so p = 1/4:

    >>> from scedsim.inference import randomization_test
    >>> r = randomization_test([3, 4, 3], [6, 7, 5, 8])
    >>> round(r.statistic, 4), r.pvalue, r.n_arrangements
    (3.1667, 0.25, 4)

    The first example of Parker, Vannest & Davis (2011), with NAP as the
    statistic: ten admissible start points.

    >>> r = randomization_test([20, 20, 26, 25, 22, 23], [28, 25, 24, 27, 30, 30, 29], statistic="nap")
    >>> r.n_arrangements, r.min_pvalue
    (10, 0.1)
    """
    check_choice("alternative", alternative, ALTERNATIVES)
    name, f = statistic_function(statistic, options, improvement)
    A, B, is_1d = phases(a, b, improvement, metric="randomization test")
    m = A.shape[1]
    y = np.concatenate([A, B], axis=1)
    starts = admissible_starts(y.shape[1], check_int("min_phase", min_phase, 1))
    if m not in starts:
        raise ValueError(f"the observed baseline of {m} points is not admissible with min_phase={min_phase}")
    null = _split_stats(y, starts, f)
    observed = null[:, int(np.flatnonzero(starts == m)[0])]
    ge, le, k_def = count_extreme(null, observed, alternative, exclude_equal, data_scale=np.abs(y).max(axis=1))
    p = pvalue_from_counts(ge, le, k_def, alternative, observed=observed)
    return _result(observed, p, starts.size, 1.0 / starts.size, "exact", alternative,
                   null if return_distribution else None, is_1d)


def _result(observed, p, n, min_p, method, alternative, null, is_1d):
    if is_1d:
        return TestResult(float(observed[0]), float(p[0]), n, min_p, method, alternative,
                          None if null is None else null[0])
    return TestResult(observed, p, n, min_p, method, alternative, null)


SCHEMES = ("marascuilo_busk", "wampold_worsham", "koehler_levin")


def multiple_baseline_test(cases, *, statistic="mean_diff", improvement: str = "increase", min_phase: int = 2,
                           scheme: str = "marascuilo_busk", alternative: str = "greater",
                           exclude_equal: bool = False, combine: str | None = None, tier_starts=None,
                           n_resamples: int | None = None, max_arrangements: int = 2_000_000, rng=None,
                           return_distribution: bool = False, options: dict | None = None) -> TestResult:
    """Randomization test of the across-case statistic in a multiple-baseline design.

    Parameters
    ----------
    cases : sequence of (a, b)
        One pair of observed phases per participant.
    statistic, improvement, min_phase, alternative, exclude_equal, options
        As for :func:`randomization_test`; the per-case statistics are combined
        by their mean (by their median for ``"median_diff"``, as scan does),
        or as ``combine`` says (``"mean"`` or ``"median"``).
    scheme : str
        ``"marascuilo_busk"`` (Marascuilo & Busk 1988): each case's intervention
        point varies independently over its admissible points.
        ``"wampold_worsham"`` (Wampold & Worsham 1986): the observed
        intervention points are fixed and the participants are randomly
        assigned to them (all series equally long).
        ``"koehler_levin"`` (Koehler & Levin 1998): participants are assigned to
        staggered tiers, and tier k draws its point from ``tier_starts[k]``
        (baseline lengths; the observed assignment gives case k tier k).
    n_resamples : int, optional
        Monte Carlo resamples when the reference set exceeds
        ``max_arrangements`` (default 9999); p = (1 + count) / (1 + R).
    rng : numpy.random.Generator or int, optional
        For the Monte Carlo form.

    Returns
    -------
    TestResult

    References
    ----------
    Marascuilo, L. A., & Busk, P. L. (1988). Combining statistics for
    multiple-baseline AB and replicated ABAB designs across subjects.
    *Behavioral Assessment*, 10(1), 1-28.

    Wampold, B. E., & Worsham, N. L. (1986). Randomization tests for
    multiple-baseline designs. *Behavioral Assessment*, 8(2), 135-143.

    Koehler, M. J., & Levin, J. R. (1998). Regulated randomization: A
    potentially sharper analytical tool for the multiple-baseline design.
    *Psychological Methods*, 3(2), 206-217.

    Examples
    --------
    Three participants measured nine times, the intervention starting after
    3, 4 and 5 baseline points.  Each start varies over 6 admissible points,
    6^3 = 216 combinations, and the observed one is the most extreme:

    >>> from scedsim.inference import multiple_baseline_test
    >>> cases = [([3, 4, 3], [6, 7, 5, 8, 7, 6]),
    ...          ([2, 3, 4, 3], [7, 6, 8, 7, 8]),
    ...          ([4, 3, 4, 3, 4], [8, 7, 9, 8])]
    >>> r = multiple_baseline_test(cases)
    >>> round(r.statistic, 4), round(r.pvalue * 216, 6), r.n_arrangements
    (3.9222, 1.0, 216)

    Wampold-Worsham only permutes the participants over the three observed
    starts (3! = 6); Koehler-Levin adds a choice of start per tier:

    >>> multiple_baseline_test(cases, scheme="wampold_worsham").n_arrangements
    6
    >>> r = multiple_baseline_test(cases, scheme="koehler_levin", tier_starts=[[3, 4], [4, 5], [5, 6]])
    >>> round(r.pvalue * 48, 6), r.n_arrangements
    (1.0, 48)
    """
    check_choice("alternative", alternative, ALTERNATIVES)
    check_choice("scheme", scheme, SCHEMES)
    name, f = statistic_function(statistic, options, improvement)
    combine = combine or ("median" if name == "median_diff" else "mean")
    check_choice("combine", combine, ("mean", "median"))
    agg = np.median if combine == "median" else np.mean
    series, observed_m = [], []
    for k, pair in enumerate(cases):
        try:
            a, b = pair
        except (TypeError, ValueError):
            raise ValueError(f"case {k + 1}: give each case as a pair (a, b) of phases") from None
        A, B, is_1d = phases(a, b, improvement, metric=f"case {k + 1}")
        if not is_1d:
            raise ValueError(f"case {k + 1}: each phase must be 1-D")
        series.append(np.concatenate([A, B], axis=1))
        observed_m.append(A.shape[1])
    if len(series) < 2:
        raise ValueError("a multiple-baseline test needs at least two cases")
    n_cases = len(series)
    scale = max(float(np.abs(y).max()) for y in series)

    if scheme == "marascuilo_busk":
        starts = [admissible_starts(y.shape[1], check_int("min_phase", min_phase, 1)) for y in series]
        for k, (s, m) in enumerate(zip(starts, observed_m)):
            if m not in s:
                raise ValueError(f"case {k + 1}: the observed baseline of {m} points is not admissible "
                                 f"with min_phase={min_phase}")
        per_case = [_split_stats(y, s, f)[0] for y, s in zip(series, starts)]
        obs_idx = [int(np.flatnonzero(s == m)[0]) for s, m in zip(starts, observed_m)]
        sizes = [s.size for s in starts]

        def stats_of(choice):  # choice: (R, n_cases) indices into each case's starts
            return agg(np.stack([per_case[k][choice[:, k]] for k in range(n_cases)], axis=1), axis=1)

        total = math.prod(sizes)
        enumerate_all = lambda: np.array(list(itertools.product(*[range(s) for s in sizes])))  # noqa: E731
        sample = lambda g, r: np.stack([g.integers(0, s, r) for s in sizes], axis=1)  # noqa: E731
        observed = stats_of(np.array([obs_idx]))[0]
    else:
        lengths = {y.shape[1] for y in series}
        if len(lengths) != 1:
            raise ValueError(f"scheme {scheme!r} needs series of equal length, got lengths {sorted(lengths)}")
        if scheme == "wampold_worsham":
            tiers = [np.array([m]) for m in observed_m]
        else:
            if tier_starts is None or len(tier_starts) != n_cases:
                raise ValueError("scheme 'koehler_levin' needs tier_starts: one set of baseline lengths per tier")
            tiers = [np.asarray(sorted(set(int(v) for v in t))) for t in tier_starts]
            allowed = set(admissible_starts(series[0].shape[1], check_int("min_phase", min_phase, 1)).tolist())
            for k, t in enumerate(tiers):
                bad = sorted(set(t.tolist()) - allowed)
                if bad:
                    raise ValueError(f"tier {k + 1}: baseline lengths {bad} leave fewer than min_phase={min_phase} "
                                     f"points in a phase of a {series[0].shape[1]}-point series")
            for k, (t, m) in enumerate(zip(tiers, observed_m)):
                if m not in t:
                    raise ValueError(f"case {k + 1}: its baseline of {m} points is not among tier {k + 1}'s "
                                     f"starts {t.tolist()}")
        all_starts = np.unique(np.concatenate(tiers))
        table = [_split_stats(y, all_starts, f)[0] for y in series]  # case x start
        pos = {int(s): i for i, s in enumerate(all_starts)}
        perms = list(itertools.permutations(range(n_cases)))
        tier_sizes = [t.size for t in tiers]
        total = len(perms) * math.prod(tier_sizes)

        def stats_of(choice):  # choice: (R, 1 + n_tiers): permutation index, then start index per tier
            vals = np.empty((choice.shape[0], n_cases))
            for r, row in enumerate(choice):
                perm = perms[row[0]]
                for tier in range(n_cases):
                    case = perm[tier]
                    vals[r, tier] = table[case][pos[int(tiers[tier][row[1 + tier]])]]
            return agg(vals, axis=1)

        def enumerate_all():
            return np.array([(p,) + c for p in range(len(perms))
                             for c in itertools.product(*[range(s) for s in tier_sizes])])

        def sample(g, r):
            return np.stack([g.integers(0, len(perms), r)] + [g.integers(0, s, r) for s in tier_sizes], axis=1)

        identity = perms.index(tuple(range(n_cases)))
        obs_choice = [identity] + [int(np.flatnonzero(t == m)[0]) for t, m in zip(tiers, observed_m)]
        observed = stats_of(np.array([obs_choice]))[0]

    if total <= max_arrangements:
        null = stats_of(enumerate_all())
        ge, le, k_def = count_extreme(null[None, :], np.array([observed]), alternative, exclude_equal,
                                      data_scale=[scale])
        p = pvalue_from_counts(ge, le, k_def, alternative, observed=np.array([observed]))[0]
        return TestResult(float(observed), float(p), int(total), 1.0 / total, "exact", alternative,
                          null if return_distribution else None)
    r = int(n_resamples or 9999)
    g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    null = stats_of(sample(g, r))
    ge, le, r_def = count_extreme(null[None, :], np.array([observed]), alternative, exclude_equal,
                                  data_scale=[scale])
    p = pvalue_from_counts(ge, le, r_def, alternative, plus_one=not exclude_equal,
                           observed=np.array([observed]))[0]
    return TestResult(float(observed), float(p), r + 1, 1.0 / (r + 1), "monte_carlo", alternative,
                      null if return_distribution else None)


def abab_test(phases_, *, statistic="mean_diff", improvement: str = "increase", min_phase: int = 2,
              alternative: str = "greater", exclude_equal: bool = False, return_distribution: bool = False,
              options: dict | None = None) -> TestResult:
    """Randomization test for an ABAB (withdrawal) design with random phase-change points.

    The reference set holds every way to cut the series into four phases
    A1 B1 A2 B2 of at least ``min_phase`` points each (Onghena 1992, *Behavioral
    Assessment* 14, 153-171).  The statistic compares the pooled A points with
    the pooled B points (each in time order).

    Parameters
    ----------
    phases_ : sequence of four 1-D arrays
        The observed A1, B1, A2, B2 phases, in time order.
    statistic, improvement, min_phase, alternative, exclude_equal, return_distribution, options
        As for :func:`randomization_test`.

    Returns
    -------
    TestResult

    References
    ----------
    Onghena, P. (1992). Randomization tests for extensions and variations of
    ABAB single-case experimental designs: A rejoinder. *Behavioral
    Assessment*, 14(2), 153-171.

    Examples
    --------
    Twelve occasions cut into four phases of at least two points each: 35
    admissible cuts, and the observed one gives the largest difference between
    the B and the A means, p = 1/35:

    >>> from scedsim.inference import abab_test
    >>> r = abab_test([[2, 3, 2], [6, 7, 6], [3, 2, 3], [7, 8, 7]])
    >>> round(r.statistic, 4), round(r.pvalue * 35, 6), r.n_arrangements
    (4.3333, 1.0, 35)
    """
    check_choice("alternative", alternative, ALTERNATIVES)
    _, f = statistic_function(statistic, options, improvement)
    parts = list(phases_)
    if len(parts) != 4:
        raise ValueError(f"an ABAB design has four phases (A1, B1, A2, B2), got {len(parts)}")
    oriented = []
    for k, part in enumerate(parts):
        A, _, is_1d = phases(part, [0.0], improvement, metric=f"phase {k + 1}")
        if not is_1d:
            raise ValueError(f"phase {k + 1} must be 1-D")
        oriented.append(A[0])
    lengths = tuple(len(p) for p in oriented)
    min_phase = check_int("min_phase", min_phase, 1)
    y = np.concatenate(oriented)
    n_time = y.size
    if min(lengths) < min_phase:
        raise ValueError(f"the observed phases {lengths} are not all at least min_phase={min_phase} long")
    cuts = [c for c in itertools.product(range(min_phase, n_time), repeat=3)
            if min(c[0], c[1], c[2], n_time - sum(c)) >= min_phase]
    stats_ = np.empty(len(cuts))
    for k, (l1, l2, l3) in enumerate(cuts):
        a = np.concatenate([y[:l1], y[l1 + l2:l1 + l2 + l3]])[None, :]
        b = np.concatenate([y[l1:l1 + l2], y[l1 + l2 + l3:]])[None, :]
        stats_[k] = f(a, b)[0]
    observed = stats_[cuts.index(lengths[:3])]
    ge, le, k_def = count_extreme(stats_[None, :], np.array([observed]), alternative, exclude_equal,
                                  data_scale=[float(np.abs(y).max())])
    p = pvalue_from_counts(ge, le, k_def, alternative, observed=np.array([observed]))[0]
    return TestResult(float(observed), float(p), len(cuts), 1.0 / len(cuts), "exact", alternative,
                      stats_ if return_distribution else None)


def multiple_baseline_pvalues(y, baseline_lengths, *, statistic="mean_diff", improvement: str = "increase",
                              min_phase: int = 2, alternative: str = "greater", combine: str | None = None,
                              max_arrangements: int = 200_000, n_resamples: int = 9999, rng=None,
                              options: dict | None = None, scheme: str = "marascuilo_busk",
                              tier_starts=None) -> np.ndarray:
    """Marascuilo-Busk (or Koehler-Levin) p-values for a batch of multiple-baseline data sets.

    The batched form of :func:`multiple_baseline_test` for simulations: ``y`` is
    ``(n_reps, n_cases, n_time)``, case ``k`` has ``baseline_lengths[k]`` baseline
    points, and every case's intervention point varies independently over the
    points that leave ``min_phase`` points in each phase.

    With ``tier_starts`` (one set of baseline lengths per case, each admissible
    under ``min_phase``) the reference set is the design's own randomization:
    for ``scheme="marascuilo_busk"`` case k's point varies over set k; for
    ``scheme="koehler_levin"`` the cases are also permuted over the tiers
    (n! times the product of the sets' sizes arrangements), and the observed
    statistic is each case's statistic at its own baseline length, whichever
    tier drew it.

    When the combinations exceed ``max_arrangements``, ``n_resamples`` random
    combinations (shared by the rows of the batch) give Monte Carlo p-values,
    (1 + count) / (1 + R); ``rng`` defaults to a generator seeded by the data.

    Returns
    -------
    ndarray of shape (n_reps,)

    References
    ----------
    Marascuilo, L. A., & Busk, P. L. (1988). Combining statistics for
    multiple-baseline AB and replicated ABAB designs across subjects.
    *Behavioral Assessment*, 10(1), 1-28.

    Examples
    --------
    The data of :func:`multiple_baseline_test`'s example as one replication,
    and the same series reversed in time as a second:

    >>> import numpy as np
    >>> from scedsim.inference import multiple_baseline_pvalues
    >>> y = np.array([[3, 4, 3, 6, 7, 5, 8, 7, 6],
    ...               [2, 3, 4, 3, 7, 6, 8, 7, 8],
    ...               [4, 3, 4, 3, 4, 8, 7, 9, 8]], dtype=float)
    >>> p = multiple_baseline_pvalues(np.stack([y, y[:, ::-1]]), [3, 4, 5])
    >>> (p * 216).round(6).tolist()
    [1.0, 115.0]
    """
    check_choice("alternative", alternative, ALTERNATIVES)
    name, f = statistic_function(statistic, options, improvement)
    combine = combine or ("median" if name == "median_diff" else "mean")
    check_choice("combine", combine, ("mean", "median"))
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 3:
        raise ValueError(f"y must be (n_reps, n_cases, n_time), got shape {y.shape}")
    if improvement == "decrease":
        y = -y
    elif improvement != "increase":
        check_choice("improvement", improvement, ("increase", "decrease"))
    n_reps, n_cases, n_time = y.shape
    if scheme not in ("marascuilo_busk", "koehler_levin"):
        raise ValueError(f"the batched multiple-baseline test takes scheme 'marascuilo_busk' or 'koehler_levin', "
                         f"got {scheme!r}")
    if tier_starts is not None or scheme == "koehler_levin":
        return _tier_pvalues(y, baseline_lengths, f, min_phase, alternative, combine, max_arrangements,
                             n_resamples, rng, scheme, tier_starts)
    starts = admissible_starts(n_time, check_int("min_phase", min_phase, 1))
    total = starts.size ** n_cases
    monte_carlo = total > max_arrangements
    obs_idx = []
    for k, m in enumerate(baseline_lengths):
        if m not in starts:
            raise ValueError(f"case {k + 1}: a baseline of {m} points is not admissible with min_phase={min_phase}")
        obs_idx.append(int(np.flatnonzero(starts == m)[0]))
    per = np.stack([_split_stats(np.ascontiguousarray(y[:, k, :]), starts, f) for k in range(n_cases)], axis=1)
    if monte_carlo:
        if rng is None:
            import hashlib

            digest = hashlib.sha256(np.ascontiguousarray(y).tobytes()).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:16], "little"))
        g = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        grids = g.integers(0, starts.size, size=(int(n_resamples), n_cases))
        total = int(n_resamples)
    else:
        grids = np.array(list(itertools.product(range(starts.size), repeat=n_cases)))  # (K, n_cases)
    observed = per[:, np.arange(n_cases), obs_idx]
    observed = np.median(observed, axis=1) if combine == "median" else observed.mean(axis=1)
    scale = np.abs(y).reshape(n_reps, -1).max(axis=1)
    p = np.empty(n_reps)
    # Rows in chunks, so that (rows x combinations x cases) stays near 4 million values.
    step = max(1, 4_000_000 // (total * n_cases))
    for lo in range(0, n_reps, step):
        hi = min(n_reps, lo + step)
        vals = per[lo:hi][:, np.arange(n_cases)[None, :], grids]  # (rows, K, n_cases)
        null = np.median(vals, axis=2) if combine == "median" else vals.mean(axis=2)
        ge, le, k_def = count_extreme(null, observed[lo:hi], alternative, data_scale=scale[lo:hi])
        p[lo:hi] = pvalue_from_counts(ge, le, k_def, alternative, plus_one=monte_carlo, observed=observed[lo:hi])
    return p


def _data_rng(y, rng):
    if rng is None:
        import hashlib

        digest = hashlib.sha256(np.ascontiguousarray(y).tobytes()).digest()
        return np.random.default_rng(int.from_bytes(digest[:16], "little"))
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _tier_sets(tier_starts, n_cases: int, n_time: int, min_phase: int) -> list[np.ndarray]:
    if tier_starts is None or isinstance(tier_starts, str) or len(tier_starts) != n_cases:
        raise ValueError(f"tier_starts must hold one set of baseline lengths per case ({n_cases}), got {tier_starts!r}")
    allowed = set(admissible_starts(n_time, check_int("min_phase", min_phase, 1)).tolist())
    tiers = [np.asarray(sorted({int(v) for v in t})) for t in tier_starts]
    for k, t in enumerate(tiers):
        bad = sorted(set(t.tolist()) - allowed)
        if not t.size or bad:
            raise ValueError(f"tier {k + 1}: baseline lengths {bad or '(none)'} are not admissible with "
                             f"min_phase={min_phase} in a {n_time}-point series")
    return tiers


def _tier_pvalues(y, baseline_lengths, f, min_phase, alternative, combine, max_arrangements, n_resamples, rng,
                  scheme, tier_starts):
    """Batched p-values over a design's own randomization (see multiple_baseline_pvalues)."""
    n_reps, n_cases, n_time = y.shape
    tiers = _tier_sets(tier_starts, n_cases, n_time, min_phase)
    all_starts = np.unique(np.concatenate(tiers))
    pos = {int(v): i for i, v in enumerate(all_starts)}
    obs = []
    for k, m in enumerate(baseline_lengths):
        ok = int(m) in (pos if scheme == "koehler_levin" else set(tiers[k].tolist()))
        if not ok:
            raise ValueError(f"case {k + 1}: its baseline of {m} points is not in the reference set of "
                             f"tier_starts {[t.tolist() for t in tiers]}")
        obs.append(pos[int(m)])
    table = np.stack([_split_stats(np.ascontiguousarray(y[:, k, :]), all_starts, f) for k in range(n_cases)],
                     axis=1)  # (reps, case, start)
    perms = (list(itertools.permutations(range(n_cases))) if scheme == "koehler_levin"
             else [tuple(range(n_cases))])
    sizes = [t.size for t in tiers]
    total = len(perms) * math.prod(sizes)
    monte_carlo = total > max_arrangements
    if monte_carlo:
        g = _data_rng(y, rng)
        perm_idx = g.integers(0, len(perms), int(n_resamples))
        choice = np.stack([g.integers(0, s_, int(n_resamples)) for s_ in sizes], axis=1)
        total = int(n_resamples)
    else:
        combos = np.array(list(itertools.product(*[range(s_) for s_ in sizes])), dtype=np.int64).reshape(-1, n_cases)
        perm_idx = np.repeat(np.arange(len(perms)), combos.shape[0])
        choice = np.tile(combos, (len(perms), 1))
    # Arrangement r puts case perm[t] in tier t, at that tier's chosen start.
    perm_arr = np.array(perms, dtype=np.int64)[perm_idx]                          # (K, tiers): case per tier
    start_arr = np.stack([np.array([pos[int(v)] for v in t])[choice[:, j]]
                          for j, t in enumerate(tiers)], axis=1)                    # (K, tiers): start index
    agg = (lambda v, axis: np.median(v, axis=axis)) if combine == "median" else (lambda v, axis: v.mean(axis=axis))
    observed = agg(table[:, np.arange(n_cases), obs], 1)
    scale = np.abs(y).reshape(n_reps, -1).max(axis=1)
    p = np.empty(n_reps)
    step = max(1, 4_000_000 // (total * n_cases))
    for lo in range(0, n_reps, step):
        hi = min(n_reps, lo + step)
        null = agg(table[lo:hi][:, perm_arr, start_arr], 2)                        # (rows, K)
        ge, le, k_def = count_extreme(null, observed[lo:hi], alternative, data_scale=scale[lo:hi])
        p[lo:hi] = pvalue_from_counts(ge, le, k_def, alternative, plus_one=monte_carlo, observed=observed[lo:hi])
    return p


# --------------------------------------------------------------------------- registry entries

def _rand_pvalues(a, b, improvement="increase", **options):
    return randomization_test(a, b, improvement=improvement, **options).pvalue


def _n_starts(options: dict, m: int, n: int) -> int:
    return admissible_starts(m + n, int(options.get("min_phase", 2))).size


def _n_arrangements(options: dict, m: int, n: int, k: int) -> int:
    """Size of mbd_test's reference set (``tier_starts`` already resolved to sets)."""
    tiers = options.get("tier_starts")
    if tiers is None or isinstance(tiers, str):
        return _n_starts(options, m, n) ** k
    perms = math.factorial(k) if options.get("scheme") == "koehler_levin" else 1
    return perms * math.prod(len(set(t)) for t in tiers)


def _two(options: dict) -> float:
    return 2.0 if options.get("alternative") == "two-sided" else 1.0


register_test(TestSpec(
    name="rand_test", prefix="p_rand", pvalues=_rand_pvalues, needs=("statistic",),
    min_pvalue=lambda o, m, n, k: min(1.0, _two(o) / _n_starts(o, m, n))))
register_test(TestSpec(
    name="mbd_test", prefix="p_mbd", pvalues=lambda y, n_a, improvement="increase", **o:
        multiple_baseline_pvalues(y, n_a, improvement=improvement, **o),
    needs=("statistic",), across=True,
    min_pvalue=lambda o, m, n, k: min(1.0, _two(o) / _n_arrangements(o, m, n, k))))
