"""Study files: a TOML description of a Monte Carlo study.

Example::

    name = "null_3x4"
    design = "A3 B4"          # or per case: "A3 B4 | A4 B3", or random
                              # multiple-baseline starts: "MB n_time=12 starts=3-9",
                              # alternating treatments: "ATD n=12 max_run=2"
    model = "normal_ar1"      # normal_ar1, poisson, negbin, bounded_scale
    n_cases = 6
    n_reps = 20000
    seed = 2024
    n_jobs = 2                # default for `scedsim simulate`
    metrics = ["nap", "ird", "pnd", { name = "tau_u", method = "complete" }]
    contrasts = ["A:B"]
    rules = ["ird >= 0.7", "nap.ci_lower > 0.5"]
    filter = "not (phi > 0 and level == 0)"   # optional pandas query

    [params]                  # fixed model parameters
    sd = 1.0

    [grid]                    # fully crossed
    phi = [0.0, 0.3, 0.6]
    level = [0.0, 0.5, 1.0]

Several grids can be stacked, e.g. one per model or design, with ``[[grid]]``
tables, and each design can have its own contrasts::

    [[grid]]
    model = ["normal_ar1"]
    design = ["A3 B4", "A3 B2 C2"]
    level = [0.0, 1.0]

    [[grid]]
    model = ["bounded_scale"]
    improvement = ["decrease"]
    level = [0.0, 1.0]

    [contrasts]
    "A3 B2 C2" = ["A:B", "A:C", "A:B+C"]

Facts the results must reproduce are ``[[check]]`` tables (see
:mod:`scedsim.simulate.checks`), and ``[report]`` lists the discrete metrics
whose distribution is drawn::

    [report]
    distributions = ["ird"]

    [[check]]
    name = "E[IRD] = 11/30 under no effect"
    where = { phi = 0.0, level = 0.0 }
    metric = "ird"
    measure = "mean"
    expected = "11/30"
"""
from __future__ import annotations

import pathlib
import sys

from .runner import Study

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["load_study", "RUN_KEYS"]

# Keys that configure how a study is run rather than what it is.
RUN_KEYS = ("n_jobs", "backend")
_STUDY_KEYS = {"name", "design", "model", "grid", "metrics", "n_cases", "n_reps", "seed", "contrasts", "params",
               "filter", "rules", "improvement", "block_size", "chunk_size", "estimands", "n_design", "keep_raw",
               "max_error_rate", "check", "report"}


# What the keys that are not Study parameters mean (the others: Study's docstring).
_OTHER_KEYS = {
    "name": "The study's name, in the report and progress lines (default: the file's name)",
    "check": "[[check]] tables: facts the results must reproduce, checked by scedsim report",
    "n_jobs": "Parallel workers for scedsim simulate (--n-jobs overrides it)",
    "backend": "The joblib backend for scedsim simulate (--backend overrides it)",
}


def key_help() -> list[tuple[str, str]]:
    """(key, meaning) for every key a study file may hold, in the order the file
    is usually written; the meanings are the first sentence of each parameter in
    :class:`Study`'s docstring, so the list cannot drift from what is accepted."""
    import inspect
    import re

    doc = inspect.getdoc(Study)
    params = doc.split("Parameters\n----------\n", 1)[1].split("\nNotes\n-----", 1)[0]
    meaning = {}
    for names, body in re.findall(r"^(\S[^\n]*?) : [^\n]*\n((?:    [^\n]*\n?)+)", params, re.M):
        text = re.sub(r":\w+:`~?([^`]+)`", r"\1", " ".join(body.split())).replace("``", "")
        # The first sentence ("e.g. x" does not end one).
        first = re.split(r"(?<=\.)(?<!e\.g\.)\s+", text, maxsplit=1)[0].rstrip(".")
        names = [n.strip() for n in names.split(",")]
        parts = first.split(", ")
        # "n_cases, n_reps, seed : int" documents each in turn: "Cases ..., replications ..., seed".
        for n, t in zip(names, parts if len(parts) == len(names) > 1 else [first] * len(names)):
            meaning[n] = t[:1].upper() + t[1:] if len(names) > 1 else t
    order = [f.name for f in __import__("dataclasses").fields(Study)]
    keys = sorted(_STUDY_KEYS | set(RUN_KEYS), key=lambda k: (order.index(k) if k in order
                                                              else order.index("checks") if k == "check"
                                                              else len(order), k))
    out = []
    for k in keys:
        text = _OTHER_KEYS.get(k) or meaning.get(k)
        if not text:
            raise RuntimeError(f"study-file key {k!r} has no description in Study's docstring")
        out.append((k, text))
    return out


def load_study(path) -> tuple[Study, dict]:
    """Read a TOML study file; returns the :class:`Study` and the run options (``n_jobs``)."""
    path = pathlib.Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"study file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"study file {path} is not valid TOML: {exc}") from None
    run_opts = {k: data.pop(k) for k in RUN_KEYS if k in data}
    unknown = set(data) - _STUDY_KEYS
    if unknown:
        raise ValueError(f"study file {path} has unknown key(s) {', '.join(sorted(unknown))}; "
                         f"known keys: {', '.join(sorted(_STUDY_KEYS | set(RUN_KEYS)))}")
    data.setdefault("name", path.stem)
    if "check" in data:
        data["checks"] = data.pop("check")  # [[check]] tables
    return Study(**data), run_opts
