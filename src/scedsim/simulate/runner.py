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
from .estimands import compute_estimands, target_params
from .._frozen import freeze as _freeze
from .checks import check_list
from .measures import COLUMNS as MEASURE_COLUMNS
from .measures import StatsFolder, block_stats, chunk_stats, count_values, measures_table, parse_rules
from .models import get_model

__all__ = ["Study", "SimulationResult", "run"]

_DESIGN_KEYS = ("design", "n_cases", "model")
# Column names of the output tables; a grid parameter may not take one of them.
_RESERVED = ("contrast", "metric", "scope", "measure", "estimand", "at", "rule", "value", "mcse", "status",
             "n_blocks", "n_errors", "condition", "block", "rep", "case", "estimate", "limit", "limit_mcse",
             "limit_kind", "limit_by_case", "design_length", "design_length_mcse", "design_length_by_case")

# Columns of the estimands table for the design-length expectation: its key in the
# estimand dicts, "design", would overwrite a condition's own ``design`` column.
_ESTIMAND_COLUMNS = {"design": "design_length", "design_mcse": "design_length_mcse",
                     "design_by_case": "design_length_by_case"}


@dataclass(frozen=True)
class Study:
    """A Monte Carlo study: design, model, grid of conditions, metrics and replications.

    Parameters
    ----------
    design : str or Design
        Phase structure, e.g. ``"A3 B4"``; may also vary in ``grid`` (key ``design``).
        ``"MB n_time=12 starts=3-9"`` (see :func:`~scedsim.simulate.design.parse_random`)
        draws each replication's multiple-baseline start points from their own
        stream, ``SeedSequence(seed, spawn_key=(condition, block, 0))``;
        ``"ATD n=12 max_run=2"`` (see :func:`~scedsim.simulate.design.parse_alternating`)
        draws each replication's alternating treatments sequences from that stream.
    model : str, Model or callable
        ``normal_ar1``, ``poisson``, ``negbin``, ``bounded_scale`` or
        ``f(design, params, rng, n_reps) -> (n_reps, n_cases, n_time) array``.
    grid : dict of lists, DataFrame, or a list of these
        Model parameters (and optionally ``design``, ``n_cases``, ``model``) per
        condition; a dict is fully crossed in key order.  A list stacks several
        grids (e.g. one per model); a parameter a grid does not set keeps its
        default.
    metrics : sequence
        Metric and test names or mappings such as ``{"name": "tau_u", "method": "complete"}``
        or ``{"name": "bcsmd", "method": "reml"}`` (the design-comparable SMD of all cases).
        Tests and across-case metrics (``bcsmd``, label ``bcsmd_reml``) give one value per
        replication (scope ``replication``) and are skipped in conditions with too few cases.
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
                elif not list(v):
                    # An empty list would cross to no rows, and the run would fall back
                    # silently on the default value.
                    raise ValueError(f"grid key {k!r} is an empty list; give it at least one value or remove it")
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
            try:
                self.model_for(row).params(params)  # unknown names and invalid values raise here
            except ValueError as exc:
                shown = ", ".join(f"{k} = {_plain(v)!r}" for k, v in row.items() if not _missing(v))
                raise ValueError(f"condition {shown or '(defaults)'}: {exc}") from None
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

    @cached_property
    def _designs(self) -> dict:
        return {}

    def design_for(self, row: dict) -> Design:
        design = _given(row, "design", self.design)
        n_cases = int(_given(row, "n_cases", self.n_cases))
        if isinstance(design, Design):
            return design
        # Parsed once per design (a Design is frozen): the parent asks for every
        # condition's design several times (estimand look-ups, task sizes, assembly).
        key = (str(design), n_cases)
        found = self._designs.get(key)
        if found is None:
            found = self._designs[key] = Design.parse(design, n_cases=n_cases, contrasts=self._contrast_list(design))
        return found

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
        Per condition (its parameters), contrast, metric and scope: the limit
        (``limit``, ``limit_mcse``, ``limit_kind`` saying how it was obtained,
        ``limit_by_case``) and the expectation at the design's own phase lengths
        (``design_length``, ``design_length_mcse``, ``design_length_by_case``).
        The summary calls these two estimands ``"limit"`` and ``"design"``.
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


class _Shipped:
    """A study pickled once in the parent, for parallel tasks: each task then carries
    a bytes object (copied, not pickled again), and a worker process unpickles the
    study once, not once per task.  cloudpickle (joblib's) pickles a user's
    ``__main__`` models and metrics by value, as joblib itself would."""

    __slots__ = ("blob", "digest")

    def __init__(self, study: Study):
        try:
            from cloudpickle import dumps  # joblib's dependency: what loky itself pickles with
        except ImportError:  # pragma: no cover
            dumps = pickle.dumps
        self.blob = dumps(study)
        self.digest = hashlib.sha256(self.blob).hexdigest()

    def __getstate__(self):
        return self.blob, self.digest

    def __setstate__(self, state):
        self.blob, self.digest = state

    def get(self) -> Study:
        study = _UNPICKLED.get(self.digest)
        if study is None:
            _UNPICKLED.clear()  # one study per worker process at a time
            study = _UNPICKLED[self.digest] = pickle.loads(self.blob)
        return study


_UNPICKLED: dict = {}


def _study(study) -> Study:
    return study.get() if isinstance(study, _Shipped) else study


def _estimand_task(study: Study, i: int, row: dict, cache_root=None, code=None,
                   only_cached: bool = False) -> tuple[int, dict | None, dict | None]:
    """Estimands of one condition; a failure is returned as an error record, not raised.
    ``code`` is the code fingerprint, computed in the parent process.  With
    ``only_cached`` the estimands are only read from the cache (None if absent)."""
    study = _study(study)
    design = study.design_for(row)
    params = study.params_for(row)
    # Without the validity threats, which the estimands leave out: a condition with a
    # threat gets its threat-free twin's estimands, the same numbers from the same stream.
    key_row = target_params(study.model_for(row), row)
    key = json.dumps({k: _plain(v) for k, v in key_row.items() if not _missing(v)}, sort_keys=True, default=str)
    try:
        est = compute_estimands(study.model_for(row), params, design, study.contrasts_for(design), study.specs,
                                study.improvement_for(row), int(study.seed), key, study.n_design,
                                cache_root=cache_root, code=code, only_cached=only_cached)
        return i, est, None
    except Exception as exc:  # noqa: BLE001 - logged; the condition runs without estimands
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        return i, {}, dict(condition=i, block=-1, entropy=int(study.seed), spawn_key="estimands",
                           error=type(exc).__name__, message=str(exc),
                           location=f"{frame.filename}:{frame.lineno} in {frame.name}")


def _code_fingerprints(study: Study, rows) -> list[str]:
    """``study.code_fingerprint(row)`` of each row, computed once per model: it depends
    only on the model's type and function and on the study's metrics."""
    seen: dict = {}
    out = []
    for row in rows:
        model = study.model_for(row)
        func = getattr(model, "func", None)
        try:
            key = (type(model), func)
            hash(key)
        except TypeError:  # an unhashable callable: by identity
            key = (type(model), id(func))
        if key not in seen:
            seen[key] = study.code_fingerprint(row)
        out.append(seen[key])
    return out


def _chunk_task(study: Study, i: int, row: dict, k: int, estimands: dict, single_thread: bool) -> dict:
    study = _study(study)
    if single_thread:
        from .._threads import get_num_threads, set_num_threads
        before = get_num_threads()
        set_num_threads(1)  # one level of parallelism: the workers
        try:
            return _chunk_work(study, i, row, k, estimands)
        finally:
            set_num_threads(before)
    return _chunk_work(study, i, row, k, estimands)


def _chunk_batch(study, items, single_thread: bool, n_chunks: int | None = None) -> list[dict]:
    """Several chunks in one parallel task (``items``: ``(i, row, k, estimands)``), so
    that the parent sends and receives one message for them all (see :func:`_batches`).

    With ``n_chunks`` (the chunks per condition), a condition whose every chunk is in
    the batch is finished here: its chunks added (:class:`StatsFolder`, in block order
    as the parent would) and its performance measures computed, so the parent receives
    one small table instead of every block's sums (see :func:`_condition_result`).
    Conditions split over batches come back chunk by chunk, as without ``n_chunks``.
    """
    done = [_chunk_task(study, i, row, k, est, single_thread) for i, row, k, est in items]
    if n_chunks is None:
        return done
    by_cond: dict = {}
    for (i, _, k, est), res in zip(items, done):
        by_cond.setdefault(i, (est, []))[1].append(res)
    out = []
    for i, (est, results) in by_cond.items():
        if sorted(r["chunk"] for r in results) == list(range(n_chunks)):
            out.append(_condition_result(i, est, results))
        else:
            out.extend(results)
    return out


def _condition_result(i: int, estimands: dict, results: list[dict]) -> dict:
    """One condition's result from all its chunks' results: its performance measures
    (the rows :func:`measures_table` gives it, as in the parent) with every chunk's
    error records and raw estimates (``{chunk: list}``)."""
    folder = StatsFolder()
    for res in results:
        folder.add(res["stats"])
    cols, _ = measures_table([folder.result()], [estimands])
    return dict(condition=i, chunks=sorted(r["chunk"] for r in results), measures=cols,
                errors={r["chunk"]: r["errors"] for r in results}, raw={r["chunk"]: r["raw"] for r in results})


#: Batches are sized so that each worker gets about this many while the batches shrink
#: (guided self-scheduling), which keeps every worker busy to the end.
_BATCHES_PER_WORKER = 4
#: The largest batch, in the cost units of :func:`_batches` (about 1-2 s of work for the
#: seven-point study's metrics): an interruption loses at most the batches in flight.
_MAX_BATCH_COST = 1_500_000


def _chunk_costs(study: Study, conds: list, pending: list) -> list[float]:
    """Each pending chunk's estimated cost: its replications x (cases x contrasts + 2),
    the 2 standing for the per-replication work that does not grow with the cases."""
    per_cond: dict = {}
    out = []
    for i, k in pending:
        if i not in per_cond:
            design = study.design_for(conds[i])
            per_cond[i] = design.n_cases * max(1, len(study.contrasts_for(design))) + 2
        first = k * study.blocks_per_chunk
        reps = sum(study.block_reps(j) for j in range(first, min(first + study.blocks_per_chunk, study.n_blocks)))
        out.append(float(reps * per_cond[i]))
    return out


def _batches(study: Study, conds: list, pending: list, n_workers: int, costs: list | None = None) -> list[list]:
    """Group the pending chunks ``(i, k)`` into parallel tasks, by their estimated
    costs (``costs``, one per chunk; :func:`_chunk_costs` when not given).

    * Conditions go largest first (LPT, Graham 1969), so the last tasks are the
      cheapest.  A condition costing at most ``1 / (4 x workers)`` of the whole is
      not split: its worker finishes it (see :func:`_chunk_batch`) and the parent
      receives its measures, not every block's sums.  Larger conditions, and the
      last one per worker (so that the workers end together), go in consecutive
      chunks that batches may split; a condition split over several batches is
      added by the parent.
    * Guided self-scheduling (Polychronopoulos & Kuck, 1987): each batch takes about
      ``1 / (4 x workers)`` of the cost still unassigned, at least one chunk and at
      most ``_MAX_BATCH_COST``, so the first batches are large (few messages for the
      parent) and the last ones small (no worker waits long for another to finish).
      Batches end where a condition ends when that keeps them within half to one
      and a half times their target (and the largest batch).

    Results do not depend on the grouping or the order: every chunk's numbers are
    its own, and the parent adds a condition's blocks in block order.
    """
    groups: dict = {}  # condition -> [(chunk, cost)], in pending order
    for item, c in zip(pending, _chunk_costs(study, conds, pending) if costs is None else costs):
        groups.setdefault(item[0], []).append((item, c))
    left = sum(c for g in groups.values() for _, c in g)
    whole_up_to = min(left / (_BATCHES_PER_WORKER * max(1, n_workers)), _MAX_BATCH_COST)
    cost = {i: sum(c for _, c in g) for i, g in groups.items()}
    # Units of work, largest condition first: a whole condition, or one chunk of a large
    # one; each with the cost left of its condition after it and its condition's cost.
    units = []
    order = sorted(groups, key=lambda i: -cost[i])  # stable: ties in condition order
    # The last (cheapest) condition per worker goes chunk by chunk: the workers end together.
    tail = set(order[max(0, len(order) - n_workers):]) if n_workers > 1 else set()
    for i in order:
        g = groups[i]
        if cost[i] <= whole_up_to and i not in tail:
            units.append(([item for item, _ in g], cost[i], 0.0, cost[i]))
            continue
        rest = cost[i]
        for item, c in g:
            rest -= c
            units.append(([item], c, rest, cost[i]))
    out, cur, cur_cost, target, most = [], [], 0.0, 0.0, 0.0
    for n, (items, c, rest, _) in enumerate(units):
        if not cur:
            target = min(left / (_BATCHES_PER_WORKER * max(1, n_workers)), _MAX_BATCH_COST)
            most = min(1.5 * target, _MAX_BATCH_COST)
        cur.extend(items)
        cur_cost += c
        left -= c
        if rest == 0.0 and n + 1 < len(units):
            # At a condition's end: stop here if the next condition would not fit whole.
            close = cur_cost >= target or (cur_cost >= 0.5 * target and cur_cost + units[n + 1][3] > most)
        else:
            # Within a condition: finish it if little is left of it.
            close = cur_cost >= target and (rest > 0.5 * target or cur_cost + rest > most)
        if close:
            out.append(cur)
            cur, cur_cost = [], 0.0
    if cur:
        out.append(cur)
    return out


def _n_workers(n_jobs, backend) -> int:
    """The number of workers joblib runs ``n_jobs`` on (a dask cluster's threads)."""
    import contextlib

    from joblib import effective_n_jobs, parallel_config

    try:
        with parallel_config(backend=backend) if backend is not None else contextlib.nullcontext():
            return max(1, int(effective_n_jobs(n_jobs)))
    except Exception:  # noqa: BLE001 - only a hint for sizing tasks
        return max(1, os.cpu_count() or 1)


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
            elif design.draws_sequences:
                # ATD sequences drawn per replication, from the same own stream.
                used = design.realise_sequences(
                    design.draw_sequences(np.random.default_rng(_start_seed(study, row, j)), reps))
            y = model.generate(used, params, np.random.default_rng(seq), reps)
            res = analyze_block(y, used, contrasts, study.specs, improvement)
            across = across_tests(y, used, contrasts, study.specs, improvement)
            for (c, label, _), v in across.items():
                # Rules and callables see an across-case metric's interval too.
                res.setdefault((c, label), dict(v))
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
    # Counts added over the chunk's blocks, float sums per block: small, and the parent only adds.
    return dict(condition=i, chunk=k, stats=chunk_stats(blocks, first, min(first + study.blocks_per_chunk,
                                                                              study.n_blocks)),
                errors=errors, raw=raw)


# --------------------------------------------------------------------------- checkpoints

def _write_atomic(path: pathlib.Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _chunk_path(out: pathlib.Path, i: int, k: int) -> pathlib.Path:
    return out / "chunks" / f"c{i:05d}_k{k:05d}.pkl"


def _condition_path(out: pathlib.Path, i: int) -> pathlib.Path:
    """A condition finished in one worker (every chunk: measures and error records)."""
    return out / "chunks" / f"c{i:05d}_all.pkl"


def finished_chunks(out, n_chunks: int) -> int:
    """How many chunks of a study are kept in its results directory ``out``: a
    condition's file counts for all its chunks, and for no more."""
    folder = pathlib.Path(out) / "chunks"
    if not folder.is_dir():
        return 0
    per_cond: dict = {}
    for p in folder.glob("c*_*.pkl"):
        cond, part = p.stem.split("_", 1)
        per_cond[cond] = n_chunks if part == "all" else per_cond.get(cond, 0) + 1
    return sum(min(v, n_chunks) for v in per_cond.values())


def _results_code(study: Study) -> str:
    """One fingerprint of the code behind a study's numbers: scedsim's sources and the
    modules that define its models and metrics (see :meth:`Study.code_fingerprint`)."""
    codes = sorted(set(_code_fingerprints(study, study.conditions.to_dict("records"))))
    return hashlib.sha256("|".join(codes).encode()).hexdigest()[:16]


def _prepare_out(study: Study, out, resume: bool) -> pathlib.Path | None:
    if out is None:
        return None
    out = pathlib.Path(out)
    meta = out / "study.json"
    fp = study.fingerprint()
    code = _results_code(study)
    if meta.exists():
        prev = json.loads(meta.read_text())
        old = prev.get("fingerprint")
        if old != fp:
            raise ValueError(f"{out} holds results of a different study (fingerprint {old}, this study {fp}); "
                             "use a new output directory rather than mixing results")
        kept = any((out / "chunks").glob("*.pkl"))
        if not resume and kept:
            raise ValueError(f"{out} already holds results of this study; pass resume=True (or --resume) "
                             "to finish it, or choose a new directory")
        # Chunks and estimands of other code (another scedsim, an edited model or metric)
        # would mix two sets of numbers.  Directories from before this check say nothing.
        if resume and (kept or (out / "estimands.pkl").exists()) and prev.get("code") not in (None, code):
            raise ValueError(f"{out} holds results computed by other code (scedsim or the study's models and "
                             f"metrics: code fingerprint {prev.get('code')}, now {code}); finish it with the "
                             "code that started it, or run the study afresh in a new directory")
    (out / "chunks").mkdir(parents=True, exist_ok=True)
    old = json.loads(meta.read_text()) if meta.exists() else {}
    # Checks and report options do not change the results: they are kept beside them.
    new = {**old, "fingerprint": fp, "code": code, "name": study.name, "study": study.describe(),
           "checks": check_list(study.checks), "report": dict(study.report),
           # Exact facts for the designs at hand (never assumed from another design).
           "facts": design_facts(study)}
    _write_atomic(meta, json.dumps(new, indent=1, default=str).encode())
    return out


# --------------------------------------------------------------------------- run

# Run in each worker process at its start (as ``exec(_WATCH_PARENT % ppid, {})``): a daemon
# thread ends the worker when the process that started it is gone.  A parent killed
# with SIGKILL cannot stop its workers, and loky keeps idle ones for minutes; the
# thread notices the re-parenting (the parent id changes) within half a second, and
# the resource tracker then sees its pipe close and exits too.  Plain code for the
# builtin exec rather than a scedsim function: unpickling one would import the whole
# package first (seconds on a busy machine), and a parent killed meanwhile would
# leave the worker running that long.
_WATCH_PARENT = """
import os, threading, time

def _scedsim_watch_parent(ppid=%d):
    while os.getppid() == ppid:
        time.sleep(0.5)
    os._exit(1)

threading.Thread(target=_scedsim_watch_parent, name="scedsim-parent-watch", daemon=True).start()
"""


def _worker_kwargs() -> dict:
    """``Parallel`` arguments that tie process workers to this process (the
    backends that start worker processes here: loky and multiprocessing)."""
    try:
        from joblib._parallel_backends import LokyBackend, MultiprocessingBackend
        from joblib.parallel import get_active_backend
    except ImportError:  # pragma: no cover - a joblib that moved them: run without the watch
        return {}

    active, _ = get_active_backend()
    if isinstance(active, (LokyBackend, MultiprocessingBackend)):
        # A namespace of its own: exec must not write into the worker's globals.
        return dict(initializer=exec, initargs=(_WATCH_PARENT % os.getpid(), {}))
    return {}


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
        kw = _worker_kwargs()
        try:
            gen = Parallel(n_jobs=n_jobs, return_as="generator_unordered", **kw)(tasks)
        except ValueError as exc:
            if "return_as" not in str(exc):
                raise
            gen = None
        if gen is not None:
            yield from gen
            return
        group = max(1, 2 * abs(n_jobs or 1))
        for start in range(0, len(tasks), group):
            yield from Parallel(n_jobs=n_jobs, **kw)(tasks[start:start + group])


def _duration(seconds: float) -> str:
    """A rough duration for people: 40 s, 3.5 min, 2.1 h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _say(text: str, quiet: bool) -> None:
    if not quiet:
        print(f"scedsim: {text}", file=sys.stderr, flush=True)


class _Progress:
    """A tqdm bar on a terminal; without one (a log, a pipe), a line now and then.

    Either way one line gives the estimated time left once the first tasks
    are done (``PILOT_SECONDS`` after the first, or 2% of the tasks), so that
    a large study says early how long it will take.  The rate is taken from
    the first finished task on: the time before it is start-up (workers,
    compiled kernels loaded), not work.  With ``weights`` (each item's estimated
    cost, summed by :meth:`update`) the time left is the cost left at the rate
    so far: the costliest conditions run first, so a count of items would
    overstate it.
    """

    PILOT_SECONDS = 5.0
    EVERY_SECONDS = 60.0
    # A run that is nearly done needs no estimate.
    MIN_LEFT_SECONDS = 10.0

    def __init__(self, total: int, desc: str, quiet: bool, unit: str = "chunk", weight: float | None = None):
        from tqdm.auto import tqdm

        self.total, self.desc, self.quiet, self.unit = total, desc, quiet, unit
        self.tty = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        self.bar = tqdm(total=total, desc=desc, unit=unit, disable=quiet or not self.tty, leave=False)
        self.done = 0
        self.w_total = float(total if weight is None else weight)
        self.w_done = self.w_first = 0.0
        self.t0 = self.first = self.last = time.perf_counter()
        self.estimated = False

    def _left(self, now: float) -> float:
        return (now - self.first) / (self.w_done - self.w_first) * (self.w_total - self.w_done)

    def update(self, n: int = 1, weight: float | None = None) -> None:
        self.bar.update(n)
        self.done += n
        self.w_done += n if weight is None else weight
        if self.quiet or self.done >= self.total:
            return
        now = time.perf_counter()
        if self.done == n:
            self.first, self.w_first = now, self.w_done
            return
        if not self.estimated and (now - self.first >= self.PILOT_SECONDS or self.done >= 0.02 * self.total):
            self.estimated = True
            self.last = now
            if self._left(now) >= self.MIN_LEFT_SECONDS:
                self._write(f"{self.desc}: {self.done} of {self.total} {self.unit}s in "
                            f"{_duration(now - self.t0)}; about {_duration(self._left(now))} left")
        elif not self.tty and now - self.last >= self.EVERY_SECONDS:
            self.last = now
            self._write(f"{self.desc}: {self.done} of {self.total} {self.unit}s; about {_duration(self._left(now))} left")

    def _write(self, text: str) -> None:
        if self.tty:
            self.bar.write(f"scedsim: {text}", file=sys.stderr)
        else:
            _say(text, False)

    def close(self) -> None:
        self.bar.close()


def _progress(total: int, desc: str, quiet: bool, unit: str = "chunk", weight: float | None = None) -> _Progress:
    return _Progress(total, desc, quiet, unit, weight)


def run(study: Study, n_jobs: int = 1, out=None, resume: bool = False, backend: str | None = None,
        quiet: bool = False) -> SimulationResult:
    """Run a study: every condition, in chunks of replications, possibly in parallel.

    Parameters
    ----------
    study : Study
    n_jobs : int
        joblib workers over chunks (one level of parallelism; each worker runs
        numba on one thread).  Results are identical for any value.  In parallel,
        chunks go to the workers in batches (see :func:`_batches`), and a worker
        with every chunk of a condition finishes it (see :func:`_chunk_batch`).
    out : path, optional
        Results directory.  Every finished chunk (or condition finished in a
        worker) is written there at once, so an interrupted run loses at most the
        batches in flight.
    resume : bool
        Continue a run in ``out``: only missing chunks are computed.  A study
        whose definition changed is refused, and so is one whose code changed
        (scedsim, or the modules of its models and metrics): kept chunks and
        estimands of other code would mix two sets of numbers.
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
    # Parallel tasks carry the study pickled once (see _Shipped), not pickled per task.
    shipped = _Shipped(study) if single else study

    # Estimands first: the chunks use them for coverage and as the centre of their sums.
    estimands: dict[int, dict] = {}
    est_file = out / "estimands.pkl" if out else None
    if est_file is not None and est_file.exists():
        estimands = pickle.loads(est_file.read_bytes())
    todo = [i for i in range(len(conds)) if i not in estimands] if study.estimands else []
    estimand_errors = []
    n_chunks = math.ceil(study.n_blocks / study.blocks_per_chunk)
    # Say the size before anything runs: a large grid must not look like a hang.
    _say(f"{study.name}: {len(conds)} condition(s) x {study.n_reps} replications = "
         f"{len(conds) * study.n_reps:,} replications in {len(conds) * n_chunks} chunk(s)"
         + (f"; estimands first ({len(todo)} condition(s))" if todo else ""), quiet)
    if todo:
        bar = _progress(len(todo), "estimands", quiet, unit="condition")
        from .estimands import cache_dir

        root = str(cache_dir())
        # In the parent: a worker would fingerprint a user's __main__ code as its own.
        codes = _code_fingerprints(study, [conds[i] for i in todo])
        codes = dict(zip(todo, codes))
        # A warm cache is read here: a task per condition would cost the parent more
        # (sending, receiving) than reading its file.  Failures are left to the tasks.
        missing = []
        for i in todo:
            _, est, err = _estimand_task(study, i, conds[i], root, codes[i], only_cached=True)
            if err is None and est is not None:
                estimands[i] = est
            else:
                missing.append(i)
        if est_file is not None and len(missing) < len(todo):
            _write_atomic(est_file, pickle.dumps({k: v for k, v in estimands.items() if v}))
        bar.update(len(todo) - len(missing))
        try:
            for i, est, err in () if not missing else _imap((delayed(_estimand_task)(shipped, i, conds[i], root, codes[i])
                                      for i in missing), n_jobs, backend):
                estimands[i] = est
                if err is not None:
                    estimand_errors.append(err)
                elif est_file is not None:
                    # Saved one condition at a time, so an interruption keeps what is done.
                    _write_atomic(est_file, pickle.dumps({k: v for k, v in estimands.items() if v}))
                bar.update(1)
        finally:
            bar.close()
    if not study.estimands:
        estimands = {i: {} for i in range(len(conds))}

    # Chunks are added as they arrive (StatsFolder): memory holds the chunks in
    # flight, not every chunk of the study.
    folders = [StatsFolder() for _ in conds]
    measured: dict[int, dict] = {}  # conditions finished in a worker: their measures
    errors: dict[tuple[int, int], list] = {}
    raw: dict[tuple[int, int], list] = {}

    def take(res, i, k):
        first = k * study.blocks_per_chunk
        # A checkpoint written before chunks were reduced holds its blocks' statistics.
        stats = res["stats"] if "stats" in res else chunk_stats(
            res["blocks"], first, min(first + study.blocks_per_chunk, study.n_blocks))
        folders[i].add(stats)
        errors[(i, k)] = res["errors"]
        if res["raw"]:
            raw[(i, k)] = res["raw"]

    def take_condition(res):
        i = res["condition"]
        measured[i] = res["measures"]
        for k in res["chunks"]:
            errors[(i, k)] = res["errors"][k]
            if res["raw"][k]:
                raw[(i, k)] = res["raw"][k]

    pending = []
    for i in range(len(conds)):
        path = _condition_path(out, i) if out else None
        if path is not None and path.exists():
            try:
                res = pickle.loads(path.read_bytes())
                whole = sorted(res["chunks"]) == list(range(n_chunks))
            except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError):
                whole = False
            if whole:
                take_condition(res)
                continue
            path.unlink(missing_ok=True)  # damaged, or not this study's chunks: recompute them
        for k in range(n_chunks):
            path = _chunk_path(out, i, k) if out else None
            if path is not None and path.exists():
                try:
                    res = pickle.loads(path.read_bytes())
                except (OSError, pickle.UnpicklingError, EOFError):
                    path.unlink(missing_ok=True)  # damaged: recompute the chunk
                else:
                    take(res, i, k)
                    continue
            pending.append((i, k))
    if len(errors):
        _say(f"{len(errors)} chunk(s) done before, {len(pending)} to run", quiet)
    cost = dict(zip(pending, _chunk_costs(study, conds, pending)))
    bar = _progress(len(pending), study.name, quiet, weight=sum(cost.values()))
    if single:
        # In parallel, chunks go in batches: the parent's cost is per task.
        tasks = (delayed(_chunk_batch)(shipped, [(i, conds[i], k, estimands[i]) for i, k in batch], single,
                                       n_chunks)
                 for batch in _batches(study, conds, pending, _n_workers(n_jobs, backend), list(cost.values())))
    else:
        tasks = (delayed(_chunk_task)(shipped, i, conds[i], k, estimands[i], single) for i, k in pending)
    try:
        for results in _imap(tasks, n_jobs, backend):
            for res in ([results] if isinstance(results, dict) else results):
                if "measures" in res:  # a whole condition, finished in the worker
                    if out is not None:
                        _write_atomic(_condition_path(out, res["condition"]), pickle.dumps(res))
                    take_condition(res)
                    bar.update(len(res["chunks"]), sum(cost[(res["condition"], k)] for k in res["chunks"]))
                    continue
                key = (res["condition"], res["chunk"])
                if out is not None:
                    _write_atomic(_chunk_path(out, *key), pickle.dumps(res))
                take(res, *key)
                bar.update(1, cost[key])
    finally:
        # On Ctrl-C too: the bar must not be left half drawn over the message.
        bar.close()
    elapsed = time.perf_counter() - t_start
    totals = {i: f.result() for i, f in enumerate(folders) if i not in measured}
    result = _assemble(study, conds, totals, measured, errors, raw, estimands, n_chunks, out, estimand_errors)
    if out is not None:
        _save(result, out, elapsed)
    return result


def _assemble(study, conds, totals, measured, errors, raw, estimands, n_chunks, out,
              estimand_errors=()) -> SimulationResult:
    """The result tables from the conditions' added statistics (``totals``,
    ``{condition: stats}``) or measures already computed (``measured``,
    ``{condition: columns}``, conditions finished in a worker), and the chunks' error
    records and raw estimates (``{(condition, chunk): list}``)."""
    cond_df = study.conditions
    cond_cols = list(cond_df.columns)
    cond_rows, err_rows, seed_rows, est_rows, raw_rows = [], list(estimand_errors), [], [], []
    statuses = []
    for i, row in enumerate(conds):
        n_err = 0
        for k in range(n_chunks):
            n_err += len(errors[(i, k)])
            err_rows.extend(errors[(i, k)])
            for j, vals in raw.get((i, k), ()):
                for (c, label), est in vals.items():
                    reps, ncase = est.shape
                    raw_rows.append(pd.DataFrame({
                        **{col: row[col] for col in cond_cols}, "contrast": c, "metric": label,
                        "rep": np.repeat(np.arange(reps) + j * study.block_size, ncase),
                        "case": np.tile(np.arange(1, ncase + 1), reps), "estimate": est.ravel()}))
        failed = study.n_blocks and n_err / study.n_blocks > study.max_error_rate
        status = "failed" if failed else "ok"
        cond_rows.append({**row, "n_blocks": study.n_blocks, "n_errors": n_err, "status": status})
        statuses.append(status)
        key = condition_key(row)
        for j in range(study.n_blocks):
            seed_rows.append(dict(condition=i, block=j, entropy=int(study.seed),
                                  spawn_key=f"{key},{j}", reps=study.block_reps(j)))
        for (c, label, level), e in estimands.get(i, {}).items():
            est_rows.append({**row, "contrast": c, "metric": label, "scope": level,
                             **{_ESTIMAND_COLUMNS.get(k, k): v for k, v in e.items()}})
    # The measures of the conditions added here in one vectorised pass (those finished in
    # a worker come measured), then per condition its rows followed by the rows that
    # depend only on its design (computed once per design).
    order = sorted(totals)
    table, owner = measures_table([totals[i] for i in order], [estimands.get(i, {}) for i in order])
    bounds = np.searchsorted(owner, np.arange(len(order) + 1))
    parts = {i: (table, int(bounds[r]), int(bounds[r + 1])) for r, i in enumerate(order)}
    parts.update((i, (m, 0, len(m["value"]))) for i, m in measured.items())
    cols = {c: [] for c in MEASURE_COLUMNS}
    where, by_design = [], {}
    for i, row in enumerate(conds):
        part, lo, hi = parts[i]
        if hi > lo:
            for c in MEASURE_COLUMNS:
                cols[c].extend(part[c][lo:hi])
        else:
            # Every block failed: still one row per metric, saying n = 0.
            design = study.design_for(row)
            for c in study.contrasts_for(design):
                for sp in study.specs:
                    _append(cols, dict(contrast=str(c), metric=sp.label, scope="case", measure="n", estimand="",
                                       at=np.nan, rule="", value=0.0, mcse=0.0))
        dkey = (str(_given(row, "design", study.design)), int(_given(row, "n_cases", study.n_cases)),
                _given(row, "model", None) is None)
        if dkey not in by_design:
            by_design[dkey] = _min_pvalues(study, row) + _null_probabilities(study, row)
        for m in by_design[dkey]:
            _append(cols, m)
        where.extend([i] * (len(cols["value"]) - len(where)))
    if where:
        where = np.asarray(where, dtype=np.int64)
        summary = cond_df.iloc[where].reset_index(drop=True)
        extra = pd.DataFrame(cols)
        extra["status"] = np.asarray(statuses, dtype=object)[where]
        summary = pd.concat([summary, extra], axis=1)
    else:
        summary = pd.DataFrame()
    errors_df = pd.DataFrame(err_rows, columns=["condition", "block", "entropy", "spawn_key", "error", "message",
                                                "location"])
    raw_df = pd.concat(raw_rows, ignore_index=True) if raw_rows else None
    return SimulationResult(summary, pd.DataFrame(cond_rows), errors_df, pd.DataFrame(seed_rows),
                            pd.DataFrame(est_rows), raw_df, out)


def _append(cols: dict, row: dict) -> None:
    for c in MEASURE_COLUMNS:
        cols[c].append(row[c])


def _equal_sizes(design: Design, c) -> tuple[int, int] | None:
    if design.is_random:
        return None  # phase lengths vary between replications
    sizes = {tuple(x.size for x in design.indices(c, k)) for k in range(design.n_cases)}
    return sizes.pop() if len(sizes) == 1 else None


def _null_applies(spec, design: Design) -> bool:
    """Whether a test's exact null distribution holds in ``design``: the ATD test's
    (uniform ranks over the admissible sequences) only where each replication draws
    its sequence; with one fixed sequence the ranks need not be uniform."""
    return not getattr(spec.entry, "sequence", False) or design.draws_sequences


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
            if not _null_applies(spec, design):
                continue
            null = spec.entry.null_pvalues(resolved_options(spec, design), *sizes)
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



# --------------------------------------------------------------------------- exact facts

#: Arrangements enumerated per (metric, m, n) for an exact distribution.
_FACT_ARRANGEMENTS = 50_000


def _snap(x: float) -> float:
    """``x`` as the nearby fraction it is (sums over arrangements leave ~1e-17 residues)."""
    from fractions import Fraction

    f = Fraction(x).limit_denominator(100_000)
    return float(f) if abs(float(f) - x) < 1e-12 else x


def _fraction_text(x: float) -> str:
    from fractions import Fraction

    f = Fraction(x).limit_denominator(100_000)
    if abs(float(f) - x) >= 1e-12:
        return f"{x:.6g}"
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


# Parameters of the normal model that leave a case's points exchangeable whatever their
# value (a case-level constant, extra iid noise, units, and settings that act only
# through a parameter that must be off).  Every other parameter must be at its off value,
# so that a parameter added later counts as breaking the facts until declared here.
_EXCHANGEABLE_ANY = frozenset({"intercept", "sd", "me_sd", "scale", "case_sd", "onset", "outlier_k",
                               "outlier_sign", "shock_at"})


def _off(v, default) -> bool:
    if default is None:
        return v is None or (isinstance(v, float) and math.isnan(v))
    try:
        return float(v) == float(default)
    except (TypeError, ValueError):
        return v == default


def _exchangeable_null(study: Study, row: dict) -> bool:
    """Whether a condition generates exchangeable continuous series with no effect:
    normal errors and a fixed design with every parameter that could change the
    ranks' distribution (phi, level, slope, trend, effect SD, missing values,
    outliers, a shared shock, selection on the first score, ...) at its off value.
    Only there do the rank facts below hold."""
    from .models import EXTRAS, NormalAR1

    model = study.model_for(row)
    if type(model) is not NormalAR1 or study.design_for(row).is_random:
        return False
    p = model.params(study.params_for(row))
    off = {**EXTRAS, **model.defaults}
    # With no noise at all every value is tied: the rank facts need continuous data.
    noisy = float(p.get("sd", 0.0)) > 0.0 or float(p.get("me_sd", 0.0)) > 0.0
    return noisy and all(_off(p.get(k, d), d) for k, d in off.items() if k not in _EXCHANGEABLE_ANY)


def _rank_distribution(entry, options: dict, m: int, n: int):
    """Values of a rank-based metric over every equally likely arrangement of m + n
    distinct values (every ordering where the metric depends on time order), or None."""
    from ..inference.permutation import arrangements

    total = m + n
    if entry.time_ordered:
        if math.factorial(total) > _FACT_ARRANGEMENTS:
            return None
        perms = np.array(list(itertools.permutations(range(1, total + 1))), dtype=np.float64)
        a, b = perms[:, :m], perms[:, m:]
    else:
        if math.comb(total, m) > _FACT_ARRANGEMENTS:
            return None
        idx_a, idx_b = arrangements(total, m)
        a, b = idx_a + 1.0, idx_b + 1.0
    try:
        return np.asarray(entry.estimates(np.ascontiguousarray(a), np.ascontiguousarray(b), "increase",
                                          **dict(options)), dtype=np.float64)
    except (ValueError, TypeError):
        return None


def design_facts(study: Study) -> list[dict]:
    """Exact small-sample facts for the study's own designs, as ``[[check]]`` tables.

    For every condition that generates exchangeable continuous series with no
    effect (see :func:`_exchangeable_null`), every contrast whose phases have
    the same lengths m and n in every case, and every rank-based metric, the
    exact mean and the probability of its most extreme value come from the
    C(m + n, m) equally likely arrangements of the ranks (every ordering for a
    time-ordered metric), e.g. E[PND] = 1/(m + 1), E[IRD] = 11/30 and
    P(IRD = 1) = 1/35 for 3 + 4 points.  For a rule ``test <= alpha`` on a
    per-case test with an exact null (the permutation test of NAP), the rule's
    exact Type I error is the share of arrangements whose p-value is at most
    alpha.  Nothing is assumed about the design: a design or metric for which
    the enumeration is too long gets no fact.

    References
    ----------
    Edgington, E. S., & Onghena, P. (2007). *Randomization tests* (4th ed.).
    Chapman & Hall/CRC.
    """
    facts: list[dict] = []
    conds = study.conditions
    cache: dict = {}
    for row in conds.to_dict("records"):
        if not _exchangeable_null(study, row):
            continue
        where = " and ".join(f"`{k}`.isna()" if _missing(v) else f"`{k}` == {_plain(v)!r}"
                             for k, v in row.items())
        design = study.design_for(row)
        tag = f"{design.describe()}"
        for c in study.contrasts_for(design):
            sizes = _equal_sizes(design, c)
            if sizes is None:
                continue
            m, n = sizes
            for spec in study.specs:
                base = dict(where=where, contrast=str(c), metric=spec.label)
                if spec.is_test:
                    if spec.across or spec.entry.null_pvalues is None:
                        continue
                    if not _null_applies(spec, design):
                        continue
                    null = spec.entry.null_pvalues(resolved_options(spec, design), m, n)
                    if null is None:
                        continue
                    for rule in study.rule_list:
                        if rule.inner is not None or rule.metric != spec.label or rule.op not in ("<=", "<"):
                            continue
                        hit = null <= rule.value + 1e-12 if rule.op == "<=" else null < rule.value - 1e-12
                        p0 = float(np.mean(hit))
                        facts.append(dict(base, name=f"Type I error of {rule.text} = {_fraction_text(p0)} "
                                                     f"({tag}, {c}: m = {m}, n = {n})",
                                          measure="rejection_rate", rule=rule.text, expected=p0))
                    continue
                if not spec.entry.rank:
                    continue
                key = (spec.name, tuple(sorted(spec.options.items())), m, n)
                if key not in cache:
                    cache[key] = _rank_distribution(spec.entry, spec.options, m, n)
                vals = cache[key]
                if vals is None or not np.isfinite(vals).any():
                    continue
                ok = vals[np.isfinite(vals)]
                mean = _snap(float(ok.mean()))
                facts.append(dict(base, name=f"E[{spec.label}] = {_fraction_text(mean)} ({tag}, {c}: m = {m}, "
                                             f"n = {n})", measure="mean", expected=mean))
                if spec.discrete and ok.size == vals.size:
                    top = float(np.round(ok.max(), 10))
                    p_top = float(np.mean(np.round(ok, 10) == top))
                    facts.append(dict(base, name=f"P({spec.label} = {_fraction_text(top)}) = "
                                                 f"{_fraction_text(p_top)} ({tag}, {c}: m = {m}, n = {n})",
                                      measure="probability", at=top, expected=p_top))
    return facts
