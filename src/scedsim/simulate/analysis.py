"""Applying effect sizes to a simulated block, one batched call per metric and contrast."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._numba import kernel
from .._frozen import freeze
from .._validation import assume_finite
from ..registry import AcrossMetric, TestSpec, across_metrics, metrics, tests, unknown_name
from .design import Contrast, Design

__all__ = ["MetricSpec", "metric_specs", "analyze_block", "across_tests", "across_estimates", "FIELDS"]

FIELDS = ("estimate", "se", "ci_lower", "ci_upper")


@dataclass(frozen=True)
class MetricSpec:
    """A metric or test to compute: a registered name, its options and the label used in output."""

    name: str
    options: dict = field(default_factory=dict)
    label: str = ""

    def __post_init__(self):
        known_m, known_t, known_a = metrics(), tests(), across_metrics()
        if self.name not in known_m and self.name not in known_t and self.name not in known_a:
            raise unknown_name("metric or test", self.name, tuple(known_m) + tuple(known_t) + tuple(known_a))
        # The entry travels with the spec, so that worker processes see metrics
        # registered at run time in the parent.
        object.__setattr__(self, "_entry", known_t.get(self.name) or known_a.get(self.name) or known_m[self.name])
        object.__setattr__(self, "options", freeze(self.options))
        # A user's metric named as a test's statistic travels with the spec to worker processes.
        stat = self.options.get("statistic")
        dep = known_m.get(stat) if isinstance(stat, str) else None
        object.__setattr__(self, "_deps", (dep,) if dep is not None and dep.user else ())
        if "improvement" in self.options:
            raise ValueError("set the direction of improvement on the study or model, not on a metric")
        if self.is_test:
            missing = [k for k in self.entry.needs if k not in self.options]
            if missing:
                raise ValueError(f"{self.name} needs {missing[0]!r}, e.g. "
                                 f"{{name = \"{self.name}\", {missing[0]} = \"nap\"}}")
        if not self.label:
            opts = dict(self.options)
            if self.is_test:
                base = self.entry.label(opts)
                for k in self.entry.needs:
                    opts.pop(k)
            elif self.across_estimate:
                # An across-case metric: its options are checked here, and the label
                # names the method (bcsmd_hps, bcsmd_reml).
                base = self.entry.label(opts)
                for k in self.entry.label_options:
                    opts.pop(k, None)
            else:
                base = self.name
            extra = ",".join(f"{k}={v}" for k, v in sorted(opts.items()))
            object.__setattr__(self, "label", f"{base}[{extra}]" if extra else base)
        elif self.across_estimate:
            self.entry.options(dict(self.options))  # a bad option fails when the study is defined

    @property
    def entry(self):
        """The registry entry: a :class:`~scedsim.registry.Metric` or :class:`~scedsim.registry.TestSpec`."""
        return self._entry

    @property
    def is_test(self) -> bool:
        return isinstance(self._entry, TestSpec)

    @property
    def across(self) -> bool:
        """A test or an estimate of all cases together (one value per replication)."""
        return bool(getattr(self.entry, "across", False))

    @property
    def across_estimate(self) -> bool:
        """An effect size of all cases together (:class:`~scedsim.registry.AcrossMetric`)."""
        return isinstance(self._entry, AcrossMetric)

    @property
    def func(self):
        return self.entry.pvalues if self.is_test else self.entry.func

    @property
    def discrete(self) -> bool:
        # Exact p-values take few values in short series (a test says when its do not).
        return self.entry.discrete

    @property
    def has_ci(self) -> bool:
        return not self.is_test and self.entry.has_ci


def metric_specs(metrics) -> tuple[MetricSpec, ...]:
    """Normalise metric names / dicts (``{"name": "tau_u", "method": "complete"}``) to specs."""
    if isinstance(metrics, (str, dict, MetricSpec)):
        metrics = [metrics]
    out = []
    for m in metrics:
        if isinstance(m, MetricSpec):
            out.append(m)
        elif isinstance(m, str):
            out.append(MetricSpec(m))
        elif isinstance(m, dict):
            d = dict(m)
            name = d.pop("name", None)
            label = d.pop("label", "")
            if name is None:
                raise ValueError(f"a metric given as a mapping needs a 'name': {m!r}")
            out.append(MetricSpec(name, d, label))
        else:
            raise ValueError(f"a metric is a name or a mapping, got {m!r}")
    labels = [s.label for s in out]
    dup = {x for x in labels if labels.count(x) > 1}
    if dup:
        raise ValueError(f"metric labels must be unique; repeated: {', '.join(sorted(dup))}")
    if not out:
        raise ValueError("a study needs at least one metric")
    return tuple(out)


def _call(spec: MetricSpec, a: np.ndarray, b: np.ndarray, improvement: str):
    """Fields of a metric (or a test's p-value) on a 2-D batch.  A phase too short for
    the metric (after missing occasions) gives NaN; where a one-point phase leaves
    only the SE undefined, the metric itself returns the estimate with SE NaN."""
    nan = np.full(a.shape[0], np.nan)
    try:
        if spec.is_test:
            p = np.asarray(spec.func(a, b, improvement, **spec.options), dtype=np.float64)
            return {"estimate": p, "se": nan, "ci_lower": nan, "ci_upper": nan}
        r = spec.func(a, b, improvement=improvement, **spec.options)
    except ValueError:
        return {f: nan for f in FIELDS}
    return {f: np.asarray(getattr(r, f)) for f in FIELDS}


def across_tests(y: np.ndarray, design: Design, contrasts, specs, improvement: str) -> dict:
    """Replication-level values of the across-case entries: the p-values of the
    across-case tests (``mbd_test``: the Marascuilo-Busk randomization test of the
    mean (or median) statistic over the cases, on each case's baseline and
    comparison points; with ``tier_starts = "design"``, over the design's own
    randomization: see :func:`resolved_options`), and the estimates of the
    across-case metrics (the design-comparable SMD, :func:`across_estimates`).

    An entry needing more cases than the design has (``min_cases``) is skipped.

    Returns ``{(contrast, label, "replication"): {"estimate": (n_reps,) array}}``
    (for an across-case metric also ``se``, ``ci_lower`` and ``ci_upper``);
    replications with a missing occasion get NaN.  A design realised with
    per-replication start points (:meth:`Design.realise`) gives each
    replication its own realised baseline lengths.
    """
    out = {}
    for spec in specs:
        if not spec.across or design.n_cases < getattr(spec.entry, "min_cases", 1):
            continue  # too few cases for this entry in this condition: no values
        for contrast in contrasts:
            c = Contrast.parse(contrast)
            if spec.across_estimate:
                out[(str(c), spec.label, "replication")] = across_estimates(y, design, c, spec, improvement)
                continue
            p = np.full(y.shape[0], np.nan)
            if design.sequences is not None:
                # Drawn ATD sequences: every case's A then B values, each in time order.
                ya, yb = _atd_values(y, design, c)
                sub = np.concatenate([ya, yb], axis=2)
                ok = ~np.isnan(sub).any(axis=(1, 2))
                if ok.any():
                    p[ok] = spec.func(sub[ok], [ya.shape[2]] * design.n_cases, improvement=improvement,
                                      **resolved_options(spec, design))
                out[(str(c), spec.label, "replication")] = {"estimate": p}
                continue
            opts = resolved_options(spec, design)
            for reps, idx in _replication_parts(y, design, c):
                sizes = {ia.size + ib.size for ia, ib in idx}
                if len(sizes) != 1:
                    raise ValueError(f"{spec.label}: contrast {c} leaves cases of different lengths")
                sub = np.stack([y[reps][:, k, np.concatenate([ia, ib])] for k, (ia, ib) in enumerate(idx)], axis=1)
                ok = ~np.isnan(sub).any(axis=(1, 2))
                if ok.any():
                    p[reps[ok]] = spec.func(sub[ok], [ia.size for ia, _ in idx], improvement=improvement, **opts)
            out[(str(c), spec.label, "replication")] = {"estimate": p}
    return out


def _replication_parts(y: np.ndarray, design: Design, c: Contrast):
    """``[(replications, [(ia, ib) per case])]``: every replication with the cases' phase
    indices of a fixed design, or one part per realised combination of start points."""
    if design.realised is None:
        return [(np.arange(y.shape[0]), [design.indices(c, k) for k in range(design.n_cases)])]
    # Start points drawn per replication: one call per realised combination.
    combos, inverse = np.unique(design.realised, axis=0, return_inverse=True)
    return [(np.flatnonzero(inverse.ravel() == g), [design.fixed(k, m).indices(c, 0) for k, m in enumerate(combo)])
            for g, combo in enumerate(combos)]


def _across_layout(idx):
    """Occasions, treatment indicator, session numbers and design name of one
    realised across-case call: each case's baseline and comparison occasions in
    time order (a contrast such as A:C skips the occasions between, and their
    session numbers keep the true lags); ``"multiple_baseline"`` when every case
    switches once from baseline to treatment, else ``"reversal"``."""
    occ, trt = [], []
    for ia, ib in idx:
        t = np.concatenate([ia, ib])
        d = np.concatenate([np.zeros(ia.size), np.ones(ib.size)])
        order = np.argsort(t, kind="stable")
        occ.append(t[order])
        trt.append(d[order])
    if len({o.size for o in occ}) != 1:
        return None
    occ, trt = np.array(occ), np.array(trt)
    one_switch = bool(np.all(np.diff(trt, axis=1) >= 0))
    return occ, trt, occ + 1, "multiple_baseline" if one_switch else "reversal"


def across_estimates(y: np.ndarray, design: Design, contrast: Contrast, spec: MetricSpec,
                     improvement: str) -> dict:
    """One across-case estimate per replication (the design-comparable SMD).

    For each fixed design, or each realised combination of start points, the
    replications' cases are cut to their baseline and comparison occasions and
    the entry's batched function is called once on them (data negated when
    improvement is a decrease, so that a positive estimate is an improvement).
    A replication with a missing occasion, or whose estimate is undefined (e.g.
    HPS's S^2 = 0, a REML fit with phi at the boundary), gets NaN in every
    field; a design the estimator cannot use at all (cases of different
    lengths, too few observations, an alternating treatments design) gives NaN
    for its replications.

    Returns
    -------
    dict
        ``{"estimate", "se", "ci_lower", "ci_upper"}``, each of shape (n_reps,).
    """
    n_reps = y.shape[0]
    out = {f: np.full(n_reps, np.nan) for f in FIELDS}
    if design.is_atd:
        return out  # an alternating treatments design has no baseline-then-treatment layout: NaN
    opts = spec.entry.options(dict(spec.options))
    sign = -1.0 if improvement == "decrease" else 1.0
    for reps, idx in _replication_parts(y, design, contrast):
        layout = _across_layout(idx)
        if layout is None:
            continue  # cases of different lengths: no common layout
        occ, trt, times, name = layout
        sub = y[reps[:, None, None], np.arange(design.n_cases)[None, :, None], occ[None]]
        ok = ~np.isnan(sub).any(axis=(1, 2))
        if not ok.any():
            continue
        try:
            r = spec.func(sign * sub[ok], trt, times, name, **opts)
        except ValueError:
            continue  # a design the estimator cannot use (e.g. too few observations): NaN
        rows = reps[ok]
        for f in FIELDS:
            out[f][rows] = np.asarray(getattr(r, f), dtype=np.float64)
    return out


def resolved_options(spec: MetricSpec, design: Design | None) -> dict:
    """A test's options for ``design``: ``tier_starts = "design"`` (``mbd_test``) becomes
    the design's sets of start points and ``scheme`` its randomization scheme, so that
    the reference set is the design's own randomization."""
    opts = dict(spec.options)
    if spec.is_test and getattr(spec.entry, "sequence", False):
        if design is None:
            opts.setdefault("max_run", None)
        elif not design.is_atd:
            raise ValueError(f"{spec.label}: the ATD randomization test needs an alternating treatments design "
                             f"(e.g. 'ATD n=12 max_run=2'), got {design.describe()!r}")
        else:
            mr = design.max_run
            given = opts.get("max_run", "design")
            if given not in ("design", mr) and not (given == "none" and mr is None):
                raise ValueError(f"{spec.label}: max_run={given} is not the design's ({mr}); the test's "
                                 "reference set must be the design's own randomization")
            opts["max_run"] = mr
    elif design is not None and design.is_atd and spec.name in ("rand_test", "mbd_test"):
        raise ValueError(f"{spec.label}: a start-point randomization test does not fit an alternating "
                         f"treatments design; use the ATD test (p_atd_<statistic>, e.g. p_atd_mean_diff)")
    if opts.get("tier_starts") == "design":
        if design is None:
            # Checking the options on a two-case, nine-point example.
            opts.update(tier_starts=[[4], [4]], scheme="marascuilo_busk")
        elif not design.is_random:
            raise ValueError(f"{spec.label}: tier_starts = 'design' needs a design with random start points "
                             f"(e.g. 'MB n_time=12 starts=3-9'), got {design.describe()!r}")
        else:
            opts.update(tier_starts=[list(t) for t in design.starts], scheme=design.scheme)
    return opts


def check_spec(spec: MetricSpec, improvement: str = "increase") -> None:
    """Call a metric once on a small series, so that a wrong option fails when the
    study is defined rather than turning every value into NaN."""
    a = np.array([[1.0, 3.0, 2.0, 4.0]])
    b = np.array([[5.0, 4.0, 6.0, 7.0, 6.0]])
    try:
        if spec.across_estimate:
            spec.entry.options(dict(spec.options))
        elif spec.is_test and getattr(spec.entry, "sequence", False):
            spec.func(np.concatenate([a, b], axis=1), np.array([[0] * 4 + [1] * 5]), improvement,
                      **resolved_options(spec, None))
        elif spec.across:
            spec.func(np.concatenate([a, b], axis=1)[None].repeat(2, axis=1), [4, 4], improvement=improvement,
                      **resolved_options(spec, None))
        elif spec.is_test:
            spec.func(a, b, improvement, **spec.options)
        else:
            spec.func(a, b, improvement=improvement, **spec.options)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"metric {spec.label!r}: {exc}") from None


def _groups(design: Design, contrast: Contrast):
    """Cases grouped by identical baseline and comparison time indices.

    For a design realised with per-replication start points the fourth item is
    the (replication, case) rows of each group, else None (every replication)."""
    groups: dict = {}
    if design.realised is None:
        for c in range(design.n_cases):
            ia, ib = design.indices(contrast, c)
            groups.setdefault((tuple(ia), tuple(ib)), []).append(c)
        return [(np.array(k[0]), np.array(k[1]), np.array(v), None) for k, v in groups.items()]
    real = np.asarray(design.realised)
    for c in range(design.n_cases):
        for m in np.unique(real[:, c]):
            ia, ib = design.fixed(c, int(m)).indices(contrast, 0)
            reps = np.flatnonzero(real[:, c] == m)
            groups.setdefault((tuple(ia), tuple(ib)), []).append((reps, np.full(reps.size, c)))
    out = []
    for k, v in groups.items():
        reps = np.concatenate([r for r, _ in v])
        cases = np.concatenate([c for _, c in v])
        order = np.lexsort((cases, reps))
        out.append((np.array(k[0]), np.array(k[1]), np.unique(cases), (reps[order], cases[order])))
    return out


def _take(y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Occasions ``idx`` of every series as a C-contiguous (n_reps * n_cases, len(idx)) array."""
    if idx.size and np.all(np.diff(idx) == 1):
        part = y[:, :, idx[0]:idx[-1] + 1]
    else:
        part = y[:, :, idx]
    return np.ascontiguousarray(part).reshape(-1, idx.size)


def analyze_block(y: np.ndarray, design: Design, contrasts, specs, improvement: str) -> dict:
    """Every metric for every case and contrast of a block of series.

    Parameters
    ----------
    y : ndarray, shape (n_reps, n_cases, n_time)
        Simulated series; NaN marks a missing occasion.
    design : Design
    contrasts : sequence of Contrast
    specs : sequence of MetricSpec
    improvement : {"increase", "decrease"}

    Returns
    -------
    dict
        ``{(contrast, label): {"estimate", "se", "ci_lower", "ci_upper": (n_reps, n_cases)
        arrays, "n_a", "n_b": (n_reps, n_cases) point counts}}``.  Series with
        missing occasions are grouped by their pattern of observed points, so
        that every call stays batched; a phase left too short gives NaN.  For a
        design realised with per-replication start points (:meth:`Design.realise`)
        the (replication, case) series are grouped by their realised phase indices.
    """
    n_reps, n_cases, _ = y.shape
    out = {}
    finite = np.isfinite(y)
    any_missing = not bool(finite.all())
    if any_missing and np.isinf(y).any():
        raise ValueError("the model generated infinite values")
    # The block was scanned once here: the metric calls need not scan it again.
    with assume_finite():
        _analyze(y, design, contrasts, specs, improvement, any_missing, out)
    return out


def _atd_codes(design: Design, c: Contrast, n_reps: int) -> np.ndarray:
    """``(n_reps, n_cases, n_time)`` codes of an ATD for contrast ``c``: 0 where the
    occasion is the baseline condition's, 1 where the comparison's."""
    seq = design.sequences if design.sequences is not None else \
        np.broadcast_to(design.phase_codes()[None], (n_reps, design.n_cases, design.n_time))
    base = design.labels.index(c.baseline)
    comp = {design.labels.index(x) for x in c.comparison}
    if base in comp or len(comp) != 1 or not set(range(2)) <= comp | {base}:
        raise ValueError(f"contrast {c} of an alternating treatments design must compare its two conditions")
    return (np.asarray(seq) != base).astype(np.int8)


def _atd_values(y: np.ndarray, design: Design, c: Contrast):
    """Per replication and case, the baseline and comparison values (each in time
    order) of an ATD with drawn sequences: ``(n_reps, n_cases, a)`` and ``(..., b)``."""
    codes = _atd_codes(design, c, y.shape[0])
    a = design.n_time - int(codes[0, 0].sum())
    order = np.argsort(codes, axis=2, kind="stable")
    return np.take_along_axis(y, order[:, :, :a], axis=2), np.take_along_axis(y, order[:, :, a:], axis=2)


def _sequence_tests(y, design, c, specs, improvement, out):
    """Per-case tests that need the whole series and its conditions (the ATD
    randomization test): one batched call over every (replication, case)."""
    n_reps, n_cases, n_time = y.shape
    codes = _atd_codes(design, c, n_reps).reshape(-1, n_time)
    rows = np.ascontiguousarray(y).reshape(-1, n_time)
    for s in specs:
        nan = np.full((n_reps, n_cases), np.nan)
        p = np.asarray(s.func(rows, codes, improvement, **resolved_options(s, design)), dtype=np.float64)
        ok = ~np.isnan(rows)
        out[(str(c), s.label)] = {"estimate": p.reshape(n_reps, n_cases), "se": nan, "ci_lower": nan,
                                  "ci_upper": nan,
                                  "n_a": ((codes == 0) & ok).sum(axis=1).reshape(n_reps, n_cases).astype(float),
                                  "n_b": ((codes == 1) & ok).sum(axis=1).reshape(n_reps, n_cases).astype(float)}


def _analyze(y, design, contrasts, specs, improvement, any_missing, out):
    n_reps, n_cases, _ = y.shape
    seq_specs = [sp for sp in specs if sp.is_test and getattr(sp.entry, "sequence", False)]
    specs = [sp for sp in specs if sp not in seq_specs]
    for contrast in contrasts:
        c = Contrast.parse(contrast)
        if seq_specs:
            _sequence_tests(y, design, c, seq_specs, improvement, out)
        if design.sequences is not None:
            # Drawn ATD sequences: one group of every (replication, case), its baseline
            # and comparison values gathered by its own sequence.
            ya, yb = _atd_values(y, design, c)
            groups = [(ya.reshape(-1, ya.shape[2]), yb.reshape(-1, yb.shape[2]),
                       np.repeat(np.arange(n_reps), n_cases), np.tile(np.arange(n_cases), n_reps))]
            _fill_groups(groups, c, specs, improvement, n_reps, n_cases, out)
            continue
        groups = _groups(design, c)
        specs = [sp for sp in specs if not sp.across]
        if not any_missing and len(groups) == 1:
            # Fast path: every case shares its phase indices and nothing is missing.
            ia, ib, _, _ = groups[0]
            a = _take(y, ia)
            b = _take(y, ib)
            full_a = np.full((n_reps, n_cases), float(ia.size))
            full_b = np.full((n_reps, n_cases), float(ib.size))
            for s in specs:
                vals = _call(s, a, b, improvement)
                target = {f: vals[f].reshape(n_reps, n_cases) for f in FIELDS}
                target["n_a"] = full_a
                target["n_b"] = full_b
                out[(str(c), s.label)] = target
            continue
        gathered = []
        for ia, ib, cases, pairs in groups:
            if pairs is None:
                a = y[:, cases][:, :, ia].reshape(-1, ia.size)
                b = y[:, cases][:, :, ib].reshape(-1, ib.size)
                rows_rep = np.repeat(np.arange(n_reps), cases.size)
                rows_case = np.tile(cases, n_reps)
            else:
                # Realised start points: the (replication, case) series with these indices.
                rows_rep, rows_case = pairs
                a = y[rows_rep, rows_case][:, ia]
                b = y[rows_rep, rows_case][:, ib]
            gathered.append((a, b, rows_rep, rows_case))
        _fill_groups(gathered, c, [sp for sp in specs if not sp.across], improvement, n_reps, n_cases, out)


def _fill_groups(groups, c, specs, improvement, n_reps, n_cases, out):
    """Every metric on groups of (replication, case) series: ``(a, b, rows_rep,
    rows_case)`` with ``a`` and ``b`` the baseline and comparison values; series
    with missing occasions are batched by their pattern of observed points."""
    specs = [sp for sp in specs if not sp.across]
    res = {(str(c), s.label): {f: np.full((n_reps, n_cases), np.nan) for f in FIELDS} for s in specs}
    counts_a = np.zeros((n_reps, n_cases))
    counts_b = np.zeros((n_reps, n_cases))
    for a, b, rows_rep, rows_case in groups:
        na = a.shape[1]
        ok_a = ~np.isnan(a)
        ok_b = ~np.isnan(b)
        counts_a[rows_rep, rows_case] = ok_a.sum(axis=1)
        counts_b[rows_rep, rows_case] = ok_b.sum(axis=1)
        complete = ok_a.all(axis=1) & ok_b.all(axis=1)
        batches = [(np.flatnonzero(complete), None)]
        if not complete.all():
            # One batch per pattern of observed occasions.
            pattern = np.concatenate([ok_a, ok_b], axis=1)
            idx = np.flatnonzero(~complete)
            keys, inverse = np.unique(pattern[idx], axis=0, return_inverse=True)
            for k, key in enumerate(keys):
                batches.append((idx[inverse.ravel() == k], key))
        for rows, key in batches:
            if rows.size == 0:
                continue
            if key is None:
                aa, bb = a[rows], b[rows]
            else:
                aa = a[rows][:, key[:na]]
                bb = b[rows][:, key[na:]]
            for s in specs:
                target = res[(str(c), s.label)]
                if aa.shape[1] == 0 or bb.shape[1] == 0:
                    continue  # a phase with no observed point: NaN
                vals = _call(s, np.ascontiguousarray(aa), np.ascontiguousarray(bb), improvement)
                for f in FIELDS:
                    target[f][rows_rep[rows], rows_case[rows]] = vals[f]
    for key, target in res.items():
        target["n_a"] = counts_a
        target["n_b"] = counts_b
    out.update(res)


def _row_nanmean_python(x, out):
    """Mean of each row over its non-NaN entries (NaN when there are none)."""
    rows, cols = x.shape
    for r in range(rows):
        s = 0.0
        k = 0
        for c in range(cols):
            v = x[r, c]
            if v == v:
                s += v
                k += 1
        out[r] = s / k if k > 0 else np.nan


_row_nanmean = kernel(_row_nanmean_python)


def case_summaries(results: dict, specs) -> dict:
    """Across-case summaries per replication: the mean of each metric over cases
    (defined cases only), robust IRD from pooled counts (as scan pools cases),
    and for tests the Edgington combination of the cases' p-values.

    Returns ``{(contrast, label, scope): (n_reps,) array}`` with scope ``"mean"``,
    ``"pooled"`` or ``"edgington"``.
    """
    out = {}
    by_label = {s.label: s for s in specs}
    for (contrast, label), r in results.items():
        est = r["estimate"]
        if by_label[label].across:
            continue
        if by_label[label].is_test:
            # A mean of p-values is no test: combine them (Edgington's additive
            # method, the usual one for randomization tests); NaN if a case has none.
            from ..inference import combine_pvalues

            comb = np.full(est.shape[0], np.nan)
            ok = ~np.isnan(est).any(axis=1)
            if ok.any():
                comb[ok] = combine_pvalues(est[ok], "edgington")
            out[(contrast, label, "edgington")] = comb
            continue
        mean = np.empty(est.shape[0])
        _row_nanmean(np.ascontiguousarray(est), mean)
        out[(contrast, label, "mean")] = mean
        pool = by_label[label].entry.pool
        if pool is not None:
            out[(contrast, label, "pooled")] = pool(est, r["n_a"], r["n_b"], axis=1)
    return out

