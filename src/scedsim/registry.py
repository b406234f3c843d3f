"""The one registry of metrics and tests.

Every effect size is declared once, next to its definition, as a
:class:`Metric`; every test that the simulator can use as a decision rule as a
:class:`TestSpec`; every effect size estimated from all cases of a replication
together (the design-comparable SMD) as an :class:`AcrossMetric`.
Everything else (the tidy layer, the command line, the simulator, permutation
tests, :mod:`scedsim.testing`, the test suite and the benchmarks) iterates
the registry, so a new estimator is one module plus its entry.

Users add their own estimator with :func:`register_metric`; installed packages
can do the same through the ``scedsim.metrics`` entry-point group, which is
loaded the first time the registry is read, so that the command line and study
files see those metrics too::

    # pyproject.toml of a plug-in package
    [project.entry-points."scedsim.metrics"]
    my_metric = "my_package.scedsim_plugin:register"   # a function called once

This module imports nothing from the rest of scedsim at import time: it is the
lowest layer, and the metric modules import it to declare themselves.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["Metric", "TestSpec", "AcrossMetric", "register_across", "across_metrics", "get_across",
           "KernelCase", "NormalShift", "Reference", "register", "register_metric", "register_test", "get_metric",
           "get_test", "metrics", "metric_names", "tests", "test_names", "default_metrics", "unregister_metric",
           "code_fingerprint", "unknown_name", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "scedsim.metrics"
#: Statistics that tests know without the registry: no metric may take these names.
RESERVED = ("mean_diff", "median_diff")

#: The tidy note where a one-point phase leaves the unbiased SE undefined.
ONE_POINT_SE_NOTE = ("SE needs 2 points per phase (se='unbiased'); estimate and score interval kept, "
                     "SE left empty")


def unbiased_se_note(options: dict) -> str:
    """:data:`ONE_POINT_SE_NOTE` where the options ask for the unbiased SE."""
    unbiased = options.get("se", "unbiased") == "unbiased" and not options.get("kendall", False)
    return ONE_POINT_SE_NOTE if unbiased else ""


#: What swapping the phases does to a metric: ``v -> 1 - v`` or ``v -> -v``.
SWAPS = {"complement": lambda v: 1.0 - v, "negate": lambda v: -v}


@dataclass(frozen=True)
class KernelCase:
    """One way of calling a metric's kernel, for the kernel-equals-twin tests.

    ``kernel(a, b, *args(m, n), out)`` writes ``fields`` rows of ``out``.
    ``units`` is what the public function divides the data by before the
    kernel sees them (100 for percentages).
    """

    label: str
    kernel: Callable
    fields: int
    args: Callable[[int, int], tuple] = lambda m, n: ()
    units: float = 1.0


@dataclass(frozen=True)
class Reference:
    """How rows of an R reference file map to calls of a metric.

    ``kwargs(options, improvement, r_metric)`` turns a row's parsed ``option``
    string (``{"SE": "unbiased", ...}``), its direction and R's metric name into
    keyword arguments of the metric's function (``improvement`` included), or
    None for rows scedsim does not reproduce.  Without ``kwargs`` a row maps to
    the default call.  A ``metric`` ending in ``[`` matches every R name with
    that prefix (scan's ``Tau_U[A vs. B]``).  A row's ``transform=x/k`` option
    (the values R saw were the series divided by k) is applied to the data by
    :func:`scedsim.testing.compare_reference`, whatever the metric.
    """

    file: str
    package: str
    metric: str
    kwargs: Callable | None = None
    fields: tuple = ("estimate",)
    #: The option string of the rows that a plain ``f(a, b)`` is checked against.
    default: str | None = None
    #: R's values are scedsim's times ``units`` (100 where R reports a percent
    #: and scedsim the proportion).
    units: float = 1.0

    def matches(self, package: str, metric: str) -> bool:
        return package == self.package and (
            metric == self.metric or (self.metric.endswith("[") and metric.startswith(self.metric)))

    def call(self, options: dict, improvement: str, metric: str):
        if self.kwargs is None:
            return {"improvement": improvement}
        return self.kwargs(options, improvement, metric)


@dataclass(frozen=True)
class NormalShift:
    """The quantities a closed-form limit needs: phases N(0, s^2) and N(delta, s^2),
    with the effect varying across cases with SD ``tau``; ``pi = m / (m + n)``;
    ``case_sd`` is the SD of the case intercepts (zero for the per-case metrics,
    which do not see it)."""

    delta: float
    s: float
    tau: float
    pi: float
    #: SD of the case intercepts (the between-case part of the baseline variance).
    case_sd: float = 0.0


@dataclass(frozen=True, eq=False)
class Metric:
    """A registered effect size.

    Attributes
    ----------
    name : str
        The name used everywhere (``metrics=["nap"]``, ``--metrics nap``).
    label : str
        Short display label (table headers), e.g. ``"NAP"``.
    func : callable
        The public function ``func(a, b, *, improvement="increase", **options)``
        returning an :class:`~scedsim.EffectSize`; it validates its input.
    title : str
        Longer label for one-series tables (``scedsim ab``).
    variants : tuple of (label, options)
        Extra rows of ``scedsim ab`` (e.g. Tau-BC with the pretest).
    bounds : (float, float) or None
        Range of the estimate.
    has_se, has_ci : bool
        Whether the metric reports a standard error / confidence interval.
    se_min_points : int
        Points per phase the default SE needs (the estimate may need fewer).
    short_note : callable or None
        ``short_note(options) -> str``: the tidy note for a phase shorter than
        ``se_min_points`` (what is left empty and why).
    min_a, min_b : int
        Points per phase the estimate needs.
    time_ordered : bool
        The estimate depends on the order of points in time (trend-based).
    spaced : bool
        It uses the spacing of the times too, not only their order (``times=``).
    rank : bool
        Invariant under strictly increasing transforms of the data.
    discrete : bool
        Takes few distinct values in short series (its distribution is reported).
    swap : {"complement", "negate"} or None
        What exchanging the phases does to the estimate.
    default : bool
        Computed by ``effect_sizes`` unless ``metrics`` says otherwise.
    oriented : bool
        True when ``improvement="decrease"`` equals the same call on negated data;
        False for ratios of raw means (LRR), which take the direction as an option.
    directed : bool
        False when the direction lies in the options (PoGO's goal): ``improvement``
        is accepted for a uniform call, validated, and does not change the result.
    required : dict
        Options the metric cannot run without, each with an example value that
        the generic tests and the benchmarks use (``{"goal": 10.0}``).  The tidy
        layer accepts them per outcome and names them when they are missing.
    statistic : bool
        Usable as the statistic of a permutation or randomization test.
    statistic_options : dict
        Options used when it serves as a statistic (e.g. no SE, which is not needed).
    references : tuple of Reference
        The R reference rows the metric reproduces and how each maps to a call;
        the first one's ``default`` rows are those a plain implementation is
        checked against.
    limit : callable or None
        ``limit(q: NormalShift, options) -> float | None``: closed-form large-sample
        limit under a normal level shift with stationary errors.
    limit_from : callable or None
        ``limit_from(options) -> (name, options) | None``: another metric whose
        large-sample limit this one shares for any stationary model without
        trend (Tau-BC's is Tau's: the fitted baseline slope tends to 0, so the
        correction vanishes).  Where no closed form is known, the simulated
        long-run estimand is that metric's, which is cheaper and converges
        faster than the metric itself.
    pool : callable or None
        ``pool(estimates, n_a, n_b, axis)``: a pooled across-case value (IRD's pooled counts).
    pool_detail : callable or None
        ``pool_detail(estimates, n_a, n_b) -> str``: what was pooled, for the summary's notes.
    weighted : bool
        The summary reports an inverse-variance weighted mean (needs an SE),
        its Wald interval cut to ``bounds``.
    null_centre : callable or None
        ``null_centre(m, n, options) -> float``: the estimate's mean under no
        effect (exchangeable continuous data), the centre of between-person
        tests; rank-based metrics without one get it by enumeration
        (:func:`scedsim.inference.null_centre`).
    bands : dict
        Published interpretive bands as named decision rules, e.g.
        ``{"nap_strong": "nap >= 0.93"}`` (usable in a study's ``rules``).
    undefined : str
        Why an estimate can be NaN, for the tidy notes.
    kernels : tuple of KernelCase
        The kernel calls compared with their plain-Python twins; the first is
        the public function's default call (the benchmark times its twin).
    bench : dict
        Options for the benchmark run.
    user : bool
        Registered at run time with :func:`register_metric`.
    """

    name: str
    label: str
    func: Callable
    title: str = ""
    variants: tuple = ()
    bounds: tuple | None = None
    has_se: bool = False
    has_ci: bool = False
    se_min_points: int = 1
    short_note: Callable | None = None
    spaced: bool = False
    min_a: int = 1
    min_b: int = 1
    time_ordered: bool = False
    rank: bool = False
    discrete: bool = False
    swap: str | None = None
    default: bool = True
    oriented: bool = True
    directed: bool = True
    required: dict = field(default_factory=dict)
    statistic: bool = True
    statistic_options: dict = field(default_factory=dict)
    references: tuple = ()
    limit: Callable | None = None
    limit_from: Callable | None = None
    pool: Callable | None = None
    pool_detail: Callable | None = None
    weighted: bool = False
    null_centre: Callable | None = None
    bands: dict = field(default_factory=dict)
    undefined: str = ""
    kernels: tuple = ()
    bench: dict = field(default_factory=dict)
    user: bool = False

    def __post_init__(self):
        if not self.name.isidentifier() or self.name != self.name.lower():
            raise ValueError(f"a metric name must be a lower-case identifier, got {self.name!r}")
        if self.swap is not None and self.swap not in SWAPS:
            raise ValueError(f"swap must be one of {', '.join(SWAPS)} or None, got {self.swap!r}")
        if self.bounds is not None and not (len(self.bounds) == 2 and self.bounds[0] < self.bounds[1]):
            raise ValueError(f"bounds must be (low, high) with low < high, got {self.bounds!r}")
        if not self.title:
            object.__setattr__(self, "title", self.label)
        if not self.undefined:
            object.__setattr__(self, "undefined", f"{self.label} not defined for these values")

    @property
    def parameters(self) -> tuple[str, ...]:
        """Keyword options of :attr:`func` besides the data and the direction."""
        try:
            sig = inspect.signature(self.func)
        except (TypeError, ValueError):
            return ()
        return tuple(p for p in sig.parameters if p not in ("a", "b", "improvement")
                     and sig.parameters[p].kind is inspect.Parameter.KEYWORD_ONLY)

    @property
    def takes_confidence(self) -> bool:
        return "confidence" in self.parameters

    def __reduce__(self):
        # Built-in entries travel to worker processes by name (their limits are
        # lambdas); a user's entry travels as its function and is registered
        # again on arrival, so that names (e.g. a test's statistic) resolve there.
        if not self.user:
            return (get_metric, (self.name,))
        return (_rebuild_user, (self.name, self.func.user_func, self.label, self.bounds, self.discrete))

    def swapped(self, v: float) -> float:
        return SWAPS[self.swap](v)

    def estimates(self, a: np.ndarray, b: np.ndarray, improvement: str = "increase", **options) -> np.ndarray:
        """One estimate per row of 2-D ``a`` and ``b`` oriented so that higher is
        better (for a non-oriented metric the raw data and the direction)."""
        opts = {**self.statistic_options, **options}
        if not self.oriented and improvement == "decrease":
            # The caller negated the data; a ratio of raw means needs them back.
            return np.asarray(self.func(-a, -b, improvement="decrease", **opts).estimate, dtype=np.float64)
        return np.asarray(self.func(a, b, **opts).estimate, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class TestSpec:
    """A registered test usable as a simulator decision rule.

    Attributes
    ----------
    name : str
        e.g. ``"perm_test"``; study files name it with its options,
        ``{name = "perm_test", statistic = "nap"}``.
    prefix : str
        Label prefix of its p-value, e.g. ``"p_perm"`` (label ``p_perm_nap``).
    pvalues : callable
        Per case: ``pvalues(a, b, improvement, **options)`` with 2-D batches,
        returning one p-value per row.  Across cases (``across=True``):
        ``pvalues(y, n_a, improvement, **options)`` with ``y`` of shape
        ``(reps, cases, time)``, one p-value per replication.
    min_pvalue : callable
        ``min_pvalue(options, m, n, n_cases) -> float``: the smallest p-value
        attainable for ``m`` + ``n`` points per case.
    null_pvalues : callable or None
        ``null_pvalues(options, m, n) -> array``: the exact null distribution of
        the p-value (equally likely values) for continuous data, or None.
    needs : tuple of str
        Options that must be given.
    check : callable or None
        ``check(options, improvement)``: raise ValueError on a bad option.
    across : bool
        One p-value per replication from all cases together.
    min_cases : int
        Cases per replication the test needs.
    discrete : bool
        Its p-values take few values (exact tests on short series), so that study
        reports give their distribution; False for a continuous p-value (a t test).
    sequence : bool
        A per-case test that needs each occasion's value and condition (an
        alternating treatments design's randomization test):
        ``pvalues(y, codes, improvement, **options)`` with ``y`` the series
        ``(rows, time)`` and ``codes`` its conditions (0 = baseline, 1 = comparison).
    """

    name: str
    prefix: str
    pvalues: Callable
    min_pvalue: Callable
    null_pvalues: Callable | None = None
    needs: tuple = ()
    check: Callable | None = None
    across: bool = False
    min_cases: int = 1
    discrete: bool = True
    user: bool = False
    sequence: bool = False

    def __reduce__(self):
        if not self.user:
            return (get_test, (self.name,))
        return super().__reduce__()

    def label(self, options: dict) -> str:
        parts = [self.prefix] + [str(options[k]) for k in self.needs]
        return "_".join(parts)


@dataclass(frozen=True, eq=False)
class AcrossMetric:
    """A registered effect size estimated from all cases of a replication together
    (one estimate, SE and interval per replication), usable as a simulator metric.

    Attributes
    ----------
    name : str
        e.g. ``"bcsmd"``; study files name it with its options,
        ``{name = "bcsmd", method = "reml"}``.
    prefix : str
        Label prefix, e.g. ``"bcsmd"``; the values of ``label_options`` are joined
        to it (label ``bcsmd_reml``).
    func : callable
        ``func(y, treatment, times, design, **options)`` with ``y`` of shape
        ``(reps, cases, time)`` (oriented so that higher is better),
        ``treatment`` a ``(cases, time)`` 0/1 array, ``times`` the ``(cases, time)``
        session numbers and ``design`` ``"multiple_baseline"`` or ``"reversal"``;
        returns an object with 1-D ``estimate``, ``se``, ``ci_lower`` and
        ``ci_upper`` (NaN where undefined).
    defaults : dict
        Every option and its default value (an option outside it is refused).
    label_options : tuple of str
        Options whose values always appear in the label.
    check : callable or None
        ``check(options)``: raise ValueError on a bad option value.
    min_cases : int
        Cases per replication the estimator needs; conditions with fewer skip it.
    limit : callable or None
        ``limit(q: NormalShift, options) -> float``: the parameter the estimator
        targets under a normal level shift with stationary AR(1) errors, random
        case intercepts (``q.case_sd``) and measurement error (in ``q.s``).
    """

    name: str
    prefix: str
    func: Callable
    defaults: dict = field(default_factory=dict)
    label_options: tuple = ()
    check: Callable | None = None
    min_cases: int = 2
    limit: Callable | None = None
    title: str = ""
    # What the simulator asks of every metric entry.
    across: bool = True
    has_ci: bool = True
    bounds: tuple | None = None
    discrete: bool = False
    rank: bool = False
    user: bool = False

    def __reduce__(self):
        return (get_across, (self.name,))

    def options(self, options: dict) -> dict:
        """``options`` with the defaults filled in; an unknown option raises."""
        extra = sorted(set(options) - set(self.defaults))
        if extra:
            raise ValueError(f"{self.name} has no option {extra[0]!r}; it takes "
                             f"{', '.join(sorted(self.defaults))}")
        out = {**self.defaults, **options}
        if self.check is not None:
            self.check(out)
        return out

    def label(self, options: dict) -> str:
        full = self.options(options)
        return "_".join([self.prefix] + [str(full[k]) for k in self.label_options])


_METRICS: dict[str, Metric] = {}
_TESTS: dict[str, TestSpec] = {}
_ACROSS: dict[str, AcrossMetric] = {}
_lock = threading.RLock()
_loaded = False
_loading = False
_plugin_errors: list[str] = []


def _add(table: dict, entry, replace: bool, clash: str, duplicate: str):
    """Put ``entry`` in ``table`` unless its name is taken by another kind of entry
    (``clash``) or, without ``replace``, by another entry of this kind (``duplicate``)."""
    with _lock:
        if any(entry.name in t for t in (_METRICS, _TESTS, _ACROSS) if t is not table):
            raise ValueError(f"{entry.name!r} is already the name of {clash}")
        if entry.name in table and not replace and table[entry.name] is not entry:
            raise ValueError(duplicate)
        table[entry.name] = entry
    return entry


def register(metric: Metric, *, replace: bool = False) -> Metric:
    """Add a :class:`Metric` (built-in entries call this at import time)."""
    return _add(_METRICS, metric, replace, "a test or an across-case metric",
                f"a metric named {metric.name!r} is already registered; pass replace=True to redefine it")


def register_test(spec: TestSpec, *, replace: bool = False) -> TestSpec:
    """Add a :class:`TestSpec`."""
    return _add(_TESTS, spec, replace, "a metric", f"a test named {spec.name!r} is already registered")


def register_across(entry: AcrossMetric, *, replace: bool = False) -> AcrossMetric:
    """Add an :class:`AcrossMetric`."""
    return _add(_ACROSS, entry, replace, "a metric or a test",
                f"an across-case metric named {entry.name!r} is already registered")


def unregister_metric(name: str) -> None:
    """Remove a metric registered at run time (built-in metrics cannot be removed)."""
    _ensure_loaded()
    with _lock:
        m = _METRICS.get(name)
        if m is None:
            raise ValueError(f"no metric named {name!r} is registered")
        if not m.user:
            raise ValueError(f"{name!r} is built in and cannot be unregistered")
        del _METRICS[name]


def _ensure_loaded() -> None:
    """Import the modules that declare the built-in entries, then the plug-ins."""
    global _loaded, _loading
    if _loaded or _loading:
        return
    with _lock:
        if _loaded or _loading:
            return
        _loading = True
        try:
            importlib.import_module("scedsim.effect_sizes")
            importlib.import_module("scedsim.inference")
            importlib.import_module("scedsim.between_case")
            _load_plugins()
        finally:
            _loading = False
        _loaded = True


def _load_plugins() -> None:
    import warnings
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            if callable(obj) and not inspect.ismodule(obj):
                obj()
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not break scedsim
            msg = f"scedsim: plug-in {ep.name!r} ({ep.value}) failed to load: {exc}"
            _plugin_errors.append(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=2)


def metrics() -> dict[str, Metric]:
    """All registered metrics by name, built-in first, in declaration order."""
    _ensure_loaded()
    return dict(_METRICS)


def declared() -> dict[str, Metric]:
    """The built-in metrics declared so far, without loading anything (for the
    package's own imports)."""
    return {n: m for n, m in _METRICS.items() if not m.user}


def metric_names() -> tuple[str, ...]:
    return tuple(metrics())


def default_metrics() -> tuple[str, ...]:
    """The metrics :func:`scedsim.effect_sizes` computes by default."""
    return tuple(n for n, m in metrics().items() if m.default)


def tests() -> dict[str, TestSpec]:
    _ensure_loaded()
    return dict(_TESTS)


def across_metrics() -> dict[str, AcrossMetric]:
    """The effect sizes estimated from all cases of a replication together, by name."""
    _ensure_loaded()
    return dict(_ACROSS)


def get_across(name) -> AcrossMetric:
    return _get("across-case metric", across_metrics(), name)


def test_names() -> tuple[str, ...]:
    return tuple(tests())


def unknown_name(kind: str, name, known) -> ValueError:
    """The one-line error for a name that is not registered (with a close match, if any)."""
    import difflib

    near = difflib.get_close_matches(str(name), list(known), n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return ValueError(f"unknown {kind} {name!r}{hint}; known: {', '.join(known)}")


def _get(kind: str, known: dict, name):
    if not isinstance(name, str) or name not in known:
        raise unknown_name(kind, name, known)
    return known[name]


def get_metric(name) -> Metric:
    """The registered metric called ``name`` (a one-line ValueError if there is none)."""
    return _get("metric", metrics(), name)


def get_test(name) -> TestSpec:
    return _get("test", tests(), name)


# --------------------------------------------------------------------------- user metrics

def register_metric(name: str, func: Callable, *, label: str | None = None, bounds=None,
                    discrete: bool = False, replace: bool = False) -> Metric:
    """Register your own effect size so that it runs through all of scedsim.

    Parameters
    ----------
    name : str
        A lower-case identifier, not already used by a metric or test.
    func : callable
        ``func(a, b)`` with 2-D float arrays (one series per row: ``rows x m``
        and ``rows x n``), already oriented so that higher is better, returning
        one estimate per row (a numba kernel wrapper or vectorised numpy).
        NaN marks an undefined estimate.
    label : str, optional
        Display label (default: ``name``).
    bounds : (float, float), optional
        Range of the estimate, checked by :func:`scedsim.testing.check_metric`.
    discrete : bool
        The estimate takes few values in short series: study reports then give
        its distribution P(value = v).
    replace : bool
        Redefine a metric you registered before.

    Returns
    -------
    Metric
        The registry entry.  After registration ``name`` works in
        ``ss.effect_sizes(..., metrics=[name])``,
        ``permutation_test(a, b, statistic=name)``, ``Study(metrics=[name])``
        and ``scedsim.testing.check_metric(func, name, reference=False)``.

    Examples
    --------
    The share of B points above the A median (a toy median-split metric):

    >>> import numpy as np
    >>> import scedsim as ss
    >>> def above_median(a, b):
    ...     return (b > np.median(a, axis=1)[:, None]).mean(axis=1)
    >>> entry = ss.register_metric("above_median", above_median, label="AbM", bounds=(0, 1))
    >>> entry.func([1, 2, 3], [2, 4, 5, 6]).estimate
    0.75
    >>> t = ss.effect_sizes(ss.datasets.load_burnout_example(), outcomes=["EE"], improvement="decrease",
    ...                     metrics=["nap", "above_median"])
    >>> sorted(set(t.metric))
    ['above_median', 'nap']
    >>> ss.unregister_metric("above_median")
    """
    if not callable(func):
        raise ValueError(f"func must be callable, got {type(func).__name__}")
    name = str(name)
    if name in RESERVED:
        raise ValueError(f"{name!r} is the name of a built-in test statistic; choose another name")
    if bounds is not None:
        bounds = (float(bounds[0]), float(bounds[1]))
    wrapped = _public_wrapper(name, label or name, func)
    entry = Metric(name=name, label=label or name, func=wrapped, bounds=bounds, discrete=bool(discrete),
                   default=False, statistic=True, user=True,
                   undefined=f"{label or name} returned NaN for these values")
    _ensure_loaded()
    with _lock:
        old = _METRICS.get(name)
        if old is not None and not old.user:
            raise ValueError(f"{name!r} is a built-in metric; choose another name")
        if old is not None and not replace:
            raise ValueError(f"a metric named {name!r} is already registered; pass replace=True to redefine it")
        return register(entry, replace=True)


def _rebuild_user(name, func, label, bounds, discrete) -> Metric:
    """A user's metric arriving in another process: registered there too."""
    _ensure_loaded()
    with _lock:
        old = _METRICS.get(name)
        if old is not None and old.user and getattr(old.func, "user_func", None) is func:
            return old
    return register_metric(name, func, label=label, bounds=bounds, discrete=discrete, replace=True)


def _public_wrapper(name: str, label: str, func: Callable) -> Callable:
    """A validating ``f(a, b, *, improvement)`` around a user's 2-D ``func(a, b)``."""

    def metric(a, b, *, improvement: str = "increase"):
        from ._results import EffectSize, make
        from ._validation import phases

        A, B, is_1d = phases(a, b, improvement, metric=label)
        est = np.asarray(func(A, B), dtype=np.float64)
        if est.shape != (A.shape[0],):
            raise ValueError(f"metric {name!r} returned shape {est.shape} for {A.shape[0]} series; "
                             "it must return one value per row")
        out = np.full((1, A.shape[0]), np.nan)
        out[0] = est
        return make(EffectSize, out, is_1d, metric=label, n_a=A.shape[1], n_b=B.shape[1],
                    improvement=improvement, options={})

    metric.__name__ = name
    metric.__qualname__ = name
    metric.__doc__ = f"{label}: a metric registered with scedsim.register_metric (wraps {func!r})."
    metric.user_func = func
    return metric


# --------------------------------------------------------------------------- fingerprints

def _source_bytes(obj) -> bytes:
    """The code that defines ``obj``: its module's source, plus, for a function
    outside scedsim, the function itself by value (code, closure cells and the
    globals it uses, through cloudpickle), so that a changed closure or global
    changes the fingerprint too."""
    target = getattr(obj, "user_func", obj)
    target = getattr(target, "py_func", target)
    out = b""
    try:
        mod = inspect.getmodule(target)
        if mod is not None and not getattr(mod, "__name__", "").startswith("__main__"):
            out += inspect.getsource(mod).encode()
    except (OSError, TypeError):
        pass
    if not (getattr(target, "__module__", "") or "").startswith("scedsim"):
        out += _value_bytes(target)
    return out


def _value_bytes(func) -> bytes:
    """A function by value: cloudpickle where installed (joblib's process workers
    use it), else its bytecode, constants, closure cells and the globals it names."""
    try:
        import cloudpickle

        return cloudpickle.dumps(func, protocol=4)
    except Exception:  # noqa: BLE001 - not installed, or an unpicklable callable
        pass
    code = getattr(func, "__code__", None)
    if code is None:
        return repr(func).encode()
    cells = tuple(c.cell_contents for c in (func.__closure__ or ()) if c.cell_contents is not c)
    names = {n: func.__globals__.get(n) for n in code.co_names if n in getattr(func, "__globals__", {})}
    plain = {n: v for n, v in names.items() if isinstance(v, (int, float, str, bool, tuple, type(None)))}
    return code.co_code + repr((code.co_consts, cells, sorted(plain.items()))).encode()


def code_fingerprint(*objects) -> str:
    """A hash of the scedsim source files and of the code defining ``objects``.

    Anything cached on disk that code computes (e.g. simulated estimands) keys
    on this, so that changed code can never reuse a stale value.
    """
    h = hashlib.sha256(_package_source_hash().encode())
    for obj in objects:
        h.update(_source_bytes(obj))
    return h.hexdigest()[:24]


_PKG_HASH: list[str] = []


def _package_source_hash() -> str:
    if not _PKG_HASH:
        import pathlib

        root = pathlib.Path(__file__).resolve().parent
        h = hashlib.sha256()
        for p in sorted(root.rglob("*.py")):
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
        _PKG_HASH.append(h.hexdigest())
    return _PKG_HASH[0]
