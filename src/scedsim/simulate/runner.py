"""The Monte Carlo runner: conditions, seeds, chunks, parallelism, checkpoints, errors."""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import pathlib
import pickle
import sys
import time
import traceback
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .analysis import (FIELDS, across_tests, analyze_block, case_summaries, check_spec, metric_specs,
                       resolved_options)
from .design import Contrast, Design
from .estimands import compute_estimands
from .._frozen import freeze as _freeze
from .checks import check_list
from .measures import add_stats, block_stats, count_values, measures_from_stats, parse_rules
from .models import get_model

__all__ = ["Study", "SimulationResult", "run"]

_DESIGN_KEYS = ("design", "n_cases", "model")
# Column names of the output tables; a grid parameter may not take one of them.
_RESERVED = ("contrast", "metric", "scope", "measure", "estimand", "at", "rule", "value", "mcse", "status",
             "n_blocks", "n_errors", "condition", "block", "rep", "case", "estimate")


@dataclass(frozen=True)
class Study:
    """A Monte Carlo study: design, model, grid of conditions, metrics and replications.

    Parameters
    ----------
    design : str or Design
        Phase structure, e.g. ``"A3 B4"``; may also vary in ``grid`` (key ``design``).
        ``"MB n_time=12 starts=3-9"`` (see :func:`~scedsim.simulate.design.parse_random`)
        draws each replication's multiple-baseline start points from their own
        stream, ``SeedSequence(seed, spawn_key=(condition, block, 0))``.
    model : str, Model or callable
        ``normal_ar1``, ``poisson``, ``negbin``, ``bounded_scale`` or
        ``f(design, params, rng, n_reps) -> (n_reps, n_cases, n_time) array``.
    grid : dict of lists, DataFrame, or a list of these
        Model parameters (and optionally ``design``, ``n_cases``, ``model``) per
        condition; a dict is fully crossed in key order.  A list stacks several
        grids (e.g. one per model); a parameter a grid does not set keeps its
        default.
    metrics : sequence
        Metric names or mappings such as ``{"name": "tau_u", "method": "complete"}``.
    n_cases, n_reps, seed : int
        Cases per replication, replications per condition, master seed.
    contrasts : sequence of str, or mapping of design to sequence, optional
        Phase contrasts (``"A:B"``, ``"A:C"``, ``"A:B+C"``); default the design's
        first.  A mapping gives each design (by its compact form) its own list.
    params : dict
        Model parameters fixed for every condition.
    filter : str or callable, optional
        Keep only conditions for which ``filter(row_dict)`` is true, or a
        :meth:`pandas.DataFrame.query` string.
    rules : sequence of str
        Decision rules whose rejection rates are reported, e.g. ``"ird >= 0.7"``.
    improvement : {"increase", "decrease"}, optional
        Direction of improvement for the metrics; default the model's.
    block_size : int
        Replications drawn from one random stream.  Results depend on the seed
        and this, never on ``chunk_size``, ``n_jobs`` or the backend.
    chunk_size : int, optional
        Replications per task and checkpoint file (rounded up to whole blocks).
    estimands : bool
        Compute the large-sample limit and the design-length expectation.
    n_design : int
        Case-series in the simulation of the design-length expectation.
    keep_raw : bool
        Also return every per-replication, per-case estimate.
    max_error_rate : float
        A condition whose share of failed blocks exceeds this is marked failed.
    checks : sequence of mappings
        Facts the results must reproduce (a study file's ``[[check]]`` tables),
        checked by ``scedsim report``; see :mod:`scedsim.simulate.checks`.
        Like ``report`` and ``name``, they do not change the results or the fingerprint.
    report : mapping
        Report options: ``distributions``, labels of discrete metrics whose
        distribution P(value = v) is drawn (e.g. ``["ird"]``).

    Notes
    -----
    A Study is frozen: derived state (``specs``, ``conditions``, the
    fingerprint) is computed from its fields and cannot go stale.  Change a
    field with ``dataclasses.replace(study, metrics=["ird"])``.
    """

    design: Any = "A3 B4"
    model: Any = "normal_ar1"
    grid: Any = field(default_factory=dict)
    metrics: Any = ("nap", "ird", "pnd")
    n_cases: int = 1
    n_reps: int = 1000
    seed: int = 2024
    contrasts: Any = None
    params: dict = field(default_factory=dict)
    filter: Any = None
    rules: Any = ()
    improvement: str | None = None
    block_size: int = 1000
    chunk_size: int | None = None
    estimands: bool = True
    n_design: int = 50_000
    keep_raw: bool = False
    max_error_rate: float = 0.05
    name: str = "study"
    checks: Any = ()
    report: Any = field(default_factory=dict)

    def __post_init__(self):
        for f in ("grid", "metrics", "params", "rules", "contrasts", "checks", "report"):
            object.__setattr__(self, f, _freeze(getattr(self, f)))
        for spec in self.specs:
            check_spec(spec)
        if not 0.0 <= float(self.max_error_rate) <= 1.0:
            raise ValueError(f"max_error_rate must lie in [0, 1], got {self.max_error_rate!r}")
        if not isinstance(self.n_design, (int, np.integer)) or self.n_design < 100:
            raise ValueError(f"n_design must be an integer of at least 100, got {self.n_design!r}")
        self.rule_list  # noqa: B018 - bad rules and models raise now
        self.model_obj  # noqa: B018
        for k in ("n_reps", "block_size", "seed"):
            v = getattr(self, k)
            if not isinstance(v, (int, np.integer)) or v < (0 if k == "seed" else 1):
                raise ValueError(f"{k} must be a {'non-negative' if k == 'seed' else 'positive'} integer, got {v!r}")
        if self.chunk_size is not None and (not isinstance(self.chunk_size, (int, np.integer)) or self.chunk_size < 1):
            raise ValueError(f"chunk_size must be a positive integer, got {self.chunk_size!r}")
        if self.improvement not in (None, "increase", "decrease"):
            raise ValueError(f"unknown improvement {self.improvement!r}; expected 'increase' or 'decrease'")
        check_list(self.checks)
        if not isinstance(self.report, dict) or set(self.report) - {"distributions"}:
            raise ValueError(f"report must be a mapping with the key 'distributions', got {self.report!r}")
        dists = self.report.get("distributions", ())
        if isinstance(dists, str) or not isinstance(dists, tuple):
            raise ValueError(f"report.distributions must be a list of metric labels, got {dists!r}")
        discrete = {sp.label for sp in self.specs if sp.discrete}
        for label in dists:
            if label not in discrete:
                raise ValueError(f"report.distributions names {label!r}, which is not a discrete metric of this "
                                 f"study; discrete metrics: {', '.join(sorted(discrete)) or 'none'}")
        self._conditions  # noqa: B018

    @cached_property
    def specs(self):
        return metric_specs(self.metrics)

    @cached_property
    def rule_list(self):
        return parse_rules(self.rules, self.specs)

    @cached_property
    def model_obj(self):
        return get_model(self.model, self.improvement or "increase")

    @cached_property
    def _conditions(self) -> pd.DataFrame:
        return self._make_conditions()

    # ------------------------------------------------------------------ conditions
    def _make_conditions(self) -> pd.DataFrame:
        grids = self.grid if isinstance(self.grid, (list, tuple)) else [self.grid]
        if not grids:
            raise ValueError("an empty list of grids leaves no condition to run")
        parts = []
        for g in grids:
            if isinstance(g, pd.DataFrame):
                parts.append(g.reset_index(drop=True).copy())
                continue
            if not isinstance(g, dict) and g is not None:
                raise ValueError(f"a grid is a mapping of parameter lists or a DataFrame, got {g!r}")
            grid = dict(g or {})
            for k, v in grid.items():
                if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
                    grid[k] = [v]
            keys = list(grid)
            rows = [dict(zip(keys, combo)) for combo in itertools.product(*(list(grid[k]) for k in keys))]
            parts.append(pd.DataFrame(rows if rows else [{}]))
        # Several grids are stacked: a parameter a grid does not set is left at its default.
        df = pd.concat(parts, ignore_index=True, sort=False) if len(parts) > 1 else parts[0]
        if self.filter is not None:
            if isinstance(self.filter, str):
                df = df.query(self.filter)
            elif callable(self.filter):
                df = df[[bool(self.filter(r)) for r in df.to_dict("records")]]
            else:
                raise ValueError(f"filter must be a query string or a callable, got {self.filter!r}")
            df = df.reset_index(drop=True)
        if len(df) == 0:
            raise ValueError("the grid and filter leave no condition to run")
        clash = [c for c in df.columns if c in _RESERVED]
        if clash:
            raise ValueError(f"grid parameter(s) {', '.join(clash)} clash with output column names; rename them")
        # An across-case test (e.g. a between-person test) is skipped in conditions with too
        # few cases (stacked grids may mix one-case and six-case conditions), but a test
        # that no condition can run is an error.
        most = 0
        for row in df.to_dict("records"):
            design = self.design_for(row)
            most = max(most, design.n_cases)
            for spec in self.specs:
                if design.n_cases < getattr(spec.entry, "min_cases", 1):
                    continue
                if spec.is_test:
                    resolved_options(spec, design)  # tier_starts = "design" needs random starts
            params = self.params_for(row)
            self.model_for(row).params(params)  # unknown parameter names raise here
            for c in self.contrasts_for(design):
                for k in range(design.n_cases):
                    design.indices(c, k)
        for spec in self.specs:
            need = getattr(spec.entry, "min_cases", 1)
            if most < need:
                raise ValueError(f"{spec.label} needs at least {need} cases per replication; "
                                 f"the conditions have at most n_cases = {most}")
        return df

    @property
    def conditions(self) -> pd.DataFrame:
        """One row per condition: the grid after crossing and filtering."""
        return self._conditions.copy()

    def design_for(self, row: dict) -> Design:
        design = _given(row, "design", self.design)
        n_cases = int(_given(row, "n_cases", self.n_cases))
        if isinstance(design, Design):
            return design
        return Design.parse(design, n_cases=n_cases, contrasts=self._contrast_list(design))

    def _contrast_list(self, design_text):
        if isinstance(self.contrasts, dict):
            # One list of contrasts per design, keyed by its compact form.
            key = " ".join(str(design_text).split())
            return self.contrasts.get(key)
        return self.contrasts

    def contrasts_for(self, design: Design):
        own = self._contrast_list(design.describe())
        return tuple(Contrast.parse(c) for c in (own or design.contrasts))

    def model_for(self, row: dict):
        name = _given(row, "model", None)
        return get_model(name, self.improvement or "increase") if name is not None else self.model_obj

    def params_for(self, row: dict) -> dict:
        p = dict(self.params) if _given(row, "model", None) is None else {}
        p.update({k: _plain(v) for k, v in row.items() if k not in _DESIGN_KEYS and not _missing(v)})
        return p

    def improvement_for(self, row: dict) -> str:
        return self.improvement or self.model_for(row).improvement(self.params_for(row))

    @property
    def blocks_per_chunk(self) -> int:
        size = self.chunk_size or max(self.block_size, 4 * self.block_size)
        return max(1, math.ceil(size / self.block_size))

    @property
    def n_blocks(self) -> int:
        return math.ceil(self.n_reps / self.block_size)

    def block_reps(self, j: int) -> int:
        return min(self.block_size, self.n_reps - j * self.block_size)

    # ------------------------------------------------------------------ identity
    def describe(self) -> dict:
        """A JSON-able description; its hash identifies the study's results."""
        from .._version import __version__
        from .models import model_identity

        from ..registry import code_fingerprint

        design = self.design if isinstance(self.design, str) else str(self.design)
        # A user's metric is identified by its code too, so that a resume never
        # mixes chunks of an old and a redefined metric.
        users = {e.name: e for s in self.specs for e in ((s.entry,) if getattr(s.entry, "user", False) else ())
                 + s._deps}
        extra = {"user_code": {n: code_fingerprint(e.func) for n, e in sorted(users.items())}} if users else {}
        return dict(
            **extra, scedsim=__version__, design=design, model=model_identity(self.model_obj),
            grid=self.conditions.to_dict("list"), metrics=[(s.name, s.options, s.label) for s in self.specs],
            n_cases=self.n_cases, n_reps=self.n_reps, seed=int(self.seed),
            contrasts=({k: list(map(str, v)) for k, v in self.contrasts.items()} if isinstance(self.contrasts, dict)
                       else list(map(str, self.contrasts or []))),
            params=self.params, rules=[r.text for r in self.rule_list], improvement=self.improvement,
            block_size=self.block_size, chunk_size=self.blocks_per_chunk * self.block_size,
            estimands=self.estimands, n_design=self.n_design, keep_raw=self.keep_raw,
            max_error_rate=self.max_error_rate)

    def code_fingerprint(self, row: dict) -> str:
        """A hash of the code that computes this condition's values: scedsim's
        sources, the metrics' and tests' functions (a user's by value) and the model."""
        from ..registry import code_fingerprint

        model = self.model_for(row)
        funcs = [s.func for s in self.specs] + [d.func for s in self.specs for d in s._deps]
        return code_fingerprint(type(model), getattr(model, "func", None) or type(model), *funcs)

    def fingerprint(self) -> str:
        """Hash of everything that determines the results (not the study's name)."""
        text = json.dumps(self.describe(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def _missing(v) -> bool:
    """A cell a stacked grid left empty."""
    return v is None or (isinstance(v, float) and math.isnan(v))


def _given(row: dict, key: str, default):
    v = row.get(key, default)
    return default if _missing(v) else v


# --------------------------------------------------------------------------- results

@dataclass
class SimulationResult:
    """What :func:`run` returns.

    Attributes
    ----------
    summary : DataFrame
        Condition columns, then ``contrast, metric, scope, measure, estimand, at,
        rule, value, mcse, status``.  ``scope`` is ``case`` (every case-series),
        ``mean`` (mean across a replication's cases) or ``pooled`` (IRD from
        pooled counts).  ``estimand`` says which target a bias, RMSE or coverage
        refers to (``limit`` or ``design``); ``at`` is the value of a discrete
        metric whose probability is given; ``rule`` names a decision rule.
    conditions : DataFrame
        One row per condition with ``n_blocks``, ``n_errors`` and ``status``.
    errors : DataFrame
        One row per failed block: condition, block, seed entropy and spawn key,
        the exception and its message.
    seeds : DataFrame
        The seed of every (condition, block): ``SeedSequence(entropy, spawn_key=(condition, block))``
        (a design with random start points draws them from its first spawned
        child, spawn key ``(condition, block, 0)``).
    estimands : DataFrame
        Per condition, contrast, metric and scope: the limit (and how it was
        obtained) and the design-length expectation, with MCSEs.
    raw : DataFrame or None
        Per replication and case estimates, with ``keep_raw=True``.
    """

    summary: pd.DataFrame
    conditions: pd.DataFrame
    errors: pd.DataFrame
    seeds: pd.DataFrame
    estimands: pd.DataFrame
    raw: pd.DataFrame | None = None
    out: pathlib.Path | None = None

    def measure(self, measure: str, **where) -> pd.DataFrame:
        """Rows of one measure, optionally filtered by column values."""
        df = self.summary[self.summary.measure == measure]
        for k, v in where.items():
            df = df[df[k] == v]
        return df


# --------------------------------------------------------------------------- tasks

def condition_key(row: dict) -> int:
    """A 32-bit key of a condition's parameters: seeds depend on what a condition is,
    not on its position, so adding or filtering conditions leaves the others alone."""
    text = json.dumps({k: _plain(v) for k, v in row.items() if not _missing(v)}, sort_keys=True, default=str)
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _block_seed(study: Study, row: dict, j: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(int(study.seed), spawn_key=(condition_key(row), j))


def _start_seed(study: Study, row: dict, j: int) -> np.random.SeedSequence:
    """The stream of block ``j``'s drawn start points: the block stream's first spawned
    child, so that the model's own draws are those of a fixed design."""
    return np.random.SeedSequence(int(study.seed), spawn_key=(condition_key(row), j, 0))


def _estimand_task(study: Study, i: int, row: dict, cache_root=None, code=None) -> tuple[int, dict, dict | None]:
    """Estimands of one condition; a failure is returned as an error record, not raised.
    ``code`` is the code fingerprint, computed in the parent process."""
    design = study.design_for(row)
    params = study.params_for(row)
    key = json.dumps({k: _plain(v) for k, v in row.items() if not _missing(v)}, sort_keys=True, default=str)
    try:
        est = compute_estimands(study.model_for(row), params, design, study.contrasts_for(design), study.specs,
                                study.improvement_for(row), int(study.seed), key, study.n_design,
                                cache_root=cache_root, code=code)
        return i, est, None
    except Exception as exc:  # noqa: BLE001 - logged; the condition runs without estimands
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        return i, {}, dict(condition=i, block=-1, entropy=int(study.seed), spawn_key="estimands",
                           error=type(exc).__name__, message=str(exc),
                           location=f"{frame.filename}:{frame.lineno} in {frame.name}")


def _chunk_task(study: Study, i: int, row: dict, k: int, estimands: dict, single_thread: bool) -> dict:
    if single_thread:
        from .._threads import get_num_threads, set_num_threads
        before = get_num_threads()
        set_num_threads(1)  # one level of parallelism: the workers
        try:
            return _chunk_work(study, i, row, k, estimands)
        finally:
            set_num_threads(before)
    return _chunk_work(study, i, row, k, estimands)


def _chunk_work(study: Study, i: int, row: dict, k: int, estimands: dict) -> dict:
    design = study.design_for(row)
    model = study.model_for(row)
    params = study.params_for(row)
    contrasts = study.contrasts_for(design)
    improvement = study.improvement_for(row)
    discrete = {s.label for s in study.specs if s.discrete} | {r.metric for r in study.rule_list if r.inner}
    with_ci = {s.label for s in study.specs if s.has_ci}
    # Unbounded estimators (SMD, LRR, ...): error quantiles, since their variance may be infinite.
    robust = {s.label for s in study.specs if not s.is_test and getattr(s.entry, "bounds", ()) is None}
    blocks, errors, raw = [], [], []
    first = k * study.blocks_per_chunk
    for j in range(first, min(first + study.blocks_per_chunk, study.n_blocks)):
        seq = _block_seed(study, row, j)
        try:
            reps = study.block_reps(j)
            used = design
            if design.is_random:
                # Start points drawn per replication, from their own stream.
                used = design.realise(design.draw_starts(np.random.default_rng(_start_seed(study, row, j)), reps))
            y = model.generate(used, params, np.random.default_rng(seq), reps)
            res = analyze_block(y, used, contrasts, study.specs, improvement)
            across = across_tests(y, used, contrasts, study.specs, improvement)
            for (c, label, _), v in across.items():
                res_view = {"estimate": v["estimate"]}
                res.setdefault((c, label), res_view)
            values = dict(across)
            for (c, label), r in res.items():
                if r["estimate"].ndim != 2:
                    continue  # replication-level tests are already in values
                fields_ = FIELDS if label in with_ci else ("estimate",)
                values[(c, label, "case")] = {f: r[f] for f in fields_}
            for key, v in case_summaries(res, study.specs).items():
                values[key] = {"estimate": v}
            values.update(count_values(res, study.rule_list))
            blocks.append((j, block_stats(values, estimands, study.rule_list, discrete, robust)))
            if study.keep_raw:
                raw.append((j, {key: r["estimate"] for key, r in res.items() if r["estimate"].ndim == 2}))
        except Exception as exc:  # noqa: BLE001 - counted and logged, not fatal
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            errors.append(dict(condition=i, block=j, entropy=int(study.seed), spawn_key=f"{condition_key(row)},{j}",
                               error=type(exc).__name__, message=str(exc),
                               location=f"{frame.filename}:{frame.lineno} in {frame.name}"))
    return dict(condition=i, chunk=k, blocks=blocks, errors=errors, raw=raw)


# --------------------------------------------------------------------------- checkpoints

def _write_atomic(path: pathlib.Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _chunk_path(out: pathlib.Path, i: int, k: int) -> pathlib.Path:
    return out / "chunks" / f"c{i:05d}_k{k:05d}.pkl"


def _prepare_out(study: Study, out, resume: bool) -> pathlib.Path | None:
    if out is None:
        return None
    out = pathlib.Path(out)
    meta = out / "study.json"
    fp = study.fingerprint()
    if meta.exists():
        old = json.loads(meta.read_text()).get("fingerprint")
        if old != fp:
            raise ValueError(f"{out} holds results of a different study (fingerprint {old}, this study {fp}); "
                             "use a new output directory rather than mixing results")
        if not resume and any((out / "chunks").glob("*.pkl")):
            raise ValueError(f"{out} already holds results of this study; pass resume=True (or --resume) "
                             "to finish it, or choose a new directory")
    (out / "chunks").mkdir(parents=True, exist_ok=True)
    old = json.loads(meta.read_text()) if meta.exists() else {}
    # Checks and report options do not change the results: they are kept beside them.
    new = {**old, "fingerprint": fp, "name": study.name, "study": study.describe(),
           "checks": check_list(study.checks), "report": dict(study.report)}
    _write_atomic(meta, json.dumps(new, indent=1, default=str).encode())
    return out


# --------------------------------------------------------------------------- run

def _imap(tasks, n_jobs, backend):
    """Results of joblib ``delayed`` tasks as they finish.

    Backends that cannot stream results (e.g. ``multiprocessing``) run the
    tasks in groups of a few per worker, so checkpoints still follow closely.
    """
    import contextlib

    from joblib import Parallel, parallel_config

    # parallel_config also resolves backends registered lazily, such as "dask".
    ctx = parallel_config(backend=backend) if backend is not None else contextlib.nullcontext()
    tasks = list(tasks)
    with ctx:
        try:
            gen = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(tasks)
        except ValueError as exc:
            if "return_as" not in str(exc):
                raise
            gen = None
        if gen is not None:
            yield from gen
            return
        group = max(1, 2 * abs(n_jobs or 1))
        for start in range(0, len(tasks), group):
            yield from Parallel(n_jobs=n_jobs)(tasks[start:start + group])


def _progress(total: int, desc: str, quiet: bool):
    from tqdm.auto import tqdm

    disable = quiet or not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
    return tqdm(total=total, desc=desc, unit="chunk", disable=disable, leave=False)


def run(study: Study, n_jobs: int = 1, out=None, resume: bool = False, backend: str | None = None,
        quiet: bool = False) -> SimulationResult:
    """Run a study: every condition, in chunks of replications, possibly in parallel.

    Parameters
    ----------
    study : Study
    n_jobs : int
        joblib workers over chunks (one level of parallelism; each worker runs
        numba on one thread).  Results are identical for any value.
    out : path, optional
        Results directory.  Every finished chunk is written there at once, so an
        interrupted run loses at most the chunks in flight.
    resume : bool
        Continue a run in ``out``: only missing chunks are computed.  A study
        whose definition changed is refused.
    backend : str, optional
        A joblib backend (``"loky"``, ``"threading"``, ``"multiprocessing"``,
        ``"dask"`` with an active ``dask.distributed.Client``).
    quiet : bool
        No progress bar (it is also off when stderr is not a terminal).

    Returns
    -------
    SimulationResult
    """
    from joblib import delayed

    if not isinstance(study, Study):
        raise ValueError(f"run() takes a Study, got {type(study).__name__}")
    t_start = time.perf_counter()
    out = _prepare_out(study, out, resume)
    conds = study.conditions.to_dict("records")
    single = (n_jobs not in (1, None)) or backend is not None

    # Estimands first: the chunks use them for coverage and as the centre of their sums.
    estimands: dict[int, dict] = {}
    est_file = out / "estimands.pkl" if out else None
    if est_file is not None and est_file.exists():
        estimands = pickle.loads(est_file.read_bytes())
    todo = [i for i in range(len(conds)) if i not in estimands] if study.estimands else []
    estimand_errors = []
    if todo:
        bar = _progress(len(todo), "estimands", quiet)
        from .estimands import cache_dir

        root = str(cache_dir())
        # In the parent: a worker would fingerprint a user's __main__ code as its own.
        codes = {i: study.code_fingerprint(conds[i]) for i in todo}
        for i, est, err in _imap((delayed(_estimand_task)(study, i, conds[i], root, codes[i]) for i in todo),
                                 n_jobs, backend):
            estimands[i] = est
            if err is not None:
                estimand_errors.append(err)
            elif est_file is not None:
                # Saved one condition at a time, so an interruption keeps what is done.
                _write_atomic(est_file, pickle.dumps({k: v for k, v in estimands.items() if v}))
            bar.update(1)
        bar.close()
    if not study.estimands:
        estimands = {i: {} for i in range(len(conds))}

    n_chunks = math.ceil(study.n_blocks / study.blocks_per_chunk)
    chunks: dict[tuple[int, int], dict] = {}
    pending = []
    for i in range(len(conds)):
        for k in range(n_chunks):
            path = _chunk_path(out, i, k) if out else None
            if path is not None and path.exists():
                try:
                    chunks[(i, k)] = pickle.loads(path.read_bytes())
                    continue
                except (OSError, pickle.UnpicklingError, EOFError):
                    pass  # a damaged file: recompute the chunk
            pending.append((i, k))
    bar = _progress(len(pending), study.name, quiet)
    tasks = (delayed(_chunk_task)(study, i, conds[i], k, estimands[i], single) for i, k in pending)
    for res in _imap(tasks, n_jobs, backend):
        key = (res["condition"], res["chunk"])
        chunks[key] = res
        if out is not None:
            _write_atomic(_chunk_path(out, *key), pickle.dumps(res))
        bar.update(1)
    bar.close()
    elapsed = time.perf_counter() - t_start
    result = _assemble(study, conds, chunks, estimands, n_chunks, out, estimand_errors)
    if out is not None:
        _save(result, out, elapsed)
    return result


def _assemble(study, conds, chunks, estimands, n_chunks, out, estimand_errors=()) -> SimulationResult:
    cond_df = study.conditions
    cond_cols = list(cond_df.columns)
    rows, cond_rows, err_rows, seed_rows, est_rows, raw_rows = [], [], list(estimand_errors), [], [], []
    for i, row in enumerate(conds):
        total: dict = {}
        n_err = 0
        for k in range(n_chunks):
            res = chunks[(i, k)]
            for _, st in sorted(res["blocks"], key=lambda t: t[0]):
                add_stats(total, st)
            n_err += len(res["errors"])
            err_rows.extend(res["errors"])
            for j, vals in res["raw"]:
                for (c, label), est in vals.items():
                    reps, ncase = est.shape
                    raw_rows.append(pd.DataFrame({
                        **{col: row[col] for col in cond_cols}, "contrast": c, "metric": label,
                        "rep": np.repeat(np.arange(reps) + j * study.block_size, ncase),
                        "case": np.tile(np.arange(1, ncase + 1), reps), "estimate": est.ravel()}))
        failed = study.n_blocks and n_err / study.n_blocks > study.max_error_rate
        status = "failed" if failed else "ok"
        cond_rows.append({**row, "n_blocks": study.n_blocks, "n_errors": n_err, "status": status})
        measures = measures_from_stats(total, estimands.get(i, {}))
        if not measures:
            # Every block failed: still one row per metric, saying n = 0.
            design = study.design_for(row)
            measures = [dict(contrast=str(c), metric=s.label, scope="case", measure="n", estimand="", at=np.nan,
                             rule="", value=0.0, mcse=0.0) for c in study.contrasts_for(design) for s in study.specs]
        for m in measures:
            rows.append({**row, **m, "status": status})
        for m in _min_pvalues(study, row) + _null_probabilities(study, row):
            rows.append({**row, **m, "status": status})
        for j in range(study.n_blocks):
            seed_rows.append(dict(condition=i, block=j, entropy=int(study.seed),
                                  spawn_key=f"{condition_key(row)},{j}", reps=study.block_reps(j)))
        for (c, label, level), e in estimands.get(i, {}).items():
            est_rows.append({**row, "contrast": c, "metric": label, "scope": level, **e})
    summary = pd.DataFrame(rows)
    if len(summary):
        order = cond_cols + ["contrast", "metric", "scope", "measure", "estimand", "at", "rule", "value",
                             "mcse", "status"]
        summary = summary[order]
    errors = pd.DataFrame(err_rows, columns=["condition", "block", "entropy", "spawn_key", "error", "message",
                                             "location"])
    raw = pd.concat(raw_rows, ignore_index=True) if raw_rows else None
    return SimulationResult(summary, pd.DataFrame(cond_rows), errors, pd.DataFrame(seed_rows),
                            pd.DataFrame(est_rows), raw, out)


def _equal_sizes(design: Design, c) -> tuple[int, int] | None:
    if design.is_random:
        return None  # phase lengths vary between replications
    sizes = {tuple(x.size for x in design.indices(c, k)) for k in range(design.n_cases)}
    return sizes.pop() if len(sizes) == 1 else None


def _null_probabilities(study: Study, row: dict) -> list[dict]:
    """Exact null probabilities of counting rules over per-case test p-values:
    P(at least k of N cases with p <= alpha) = binomial tail with p0 = P(p <= alpha),
    p0 from the test's exact null distribution of the p-value (its registry entry)."""
    from ..inference import k_of_n

    design = study.design_for(row)
    by_label = {s.label: s for s in study.specs}
    out = []
    for rule in study.rule_list:
        inner = rule.inner
        if inner is None or inner.op not in ("<=", "<") or rule.op != ">=":
            continue
        spec = by_label.get(inner.metric)
        if spec is None or not spec.is_test or spec.across or spec.entry.null_pvalues is None:
            continue
        for c in study.contrasts_for(design):
            sizes = _equal_sizes(design, c)
            if sizes is None:
                continue
            null = spec.entry.null_pvalues(spec.options, *sizes)
            if null is None:
                continue
            hit = null <= inner.value + 1e-12 if inner.op == "<=" else null < inner.value - 1e-12
            p0 = float(np.mean(hit))
            out.append(dict(contrast=str(c), metric=rule.metric, scope="count", measure="null_probability",
                            estimand="", at=np.nan, rule=rule.text,
                            value=float(k_of_n(int(rule.value), design.n_cases, p0))
                            if int(rule.value) <= design.n_cases else 0.0, mcse=0.0))
    return out


def _min_pvalues(study: Study, row: dict) -> list[dict]:
    """The smallest p-value each test can reach in this design (over its cases)."""
    design = study.design_for(row)
    out = []
    for spec in study.specs:
        if not spec.is_test:
            continue
        for c in study.contrasts_for(design):
            mins = []
            for k in range(design.n_cases):
                # Over every start point the case can draw (its own one in a fixed design).
                for m in design.start_distribution(k) if design.is_random else (None,):
                    ia, ib = design.indices(c, k) if m is None else design.fixed(k, m).indices(c, 0)
                    mins.append(spec.entry.min_pvalue(resolved_options(spec, design), ia.size, ib.size, design.n_cases))
            out.append(dict(contrast=str(c), metric=spec.label, scope="replication" if spec.across else "case",
                            measure="min_pvalue", estimand="",
                            at=np.nan, rule="", value=min(mins), mcse=0.0))
    return out


def _save(result: SimulationResult, out: pathlib.Path, elapsed: float) -> None:
    result.summary.to_csv(out / "summary.csv", index=False)
    result.conditions.to_csv(out / "conditions.csv", index=False)
    result.errors.to_csv(out / "errors.csv", index=False)
    result.seeds.to_csv(out / "seeds.csv", index=False)
    result.estimands.to_csv(out / "estimands.csv", index=False)
    if result.raw is not None:
        result.raw.to_csv(out / "raw.csv.gz", index=False)
    meta = json.loads((out / "study.json").read_text())
    meta["finished"] = True
    meta["last_run_seconds"] = round(elapsed, 3)
    _write_atomic(out / "study.json", json.dumps(meta, indent=1, default=str).encode())


def load_result(out) -> SimulationResult:
    """Read the tables a finished run wrote to ``out``."""
    out = pathlib.Path(out)
    if not (out / "summary.csv").exists():
        raise ValueError(f"{out} holds no finished study (no summary.csv); run or resume it first")

    def read(name):
        try:
            return pd.read_csv(out / name, low_memory=False)
        except (FileNotFoundError, pd.errors.EmptyDataError):
            return pd.DataFrame()

    raw = pd.read_csv(out / "raw.csv.gz") if (out / "raw.csv.gz").exists() else None
    return SimulationResult(read("summary.csv"), read("conditions.csv"), read("errors.csv"), read("seeds.csv"),
                            read("estimands.csv"), raw, out)

