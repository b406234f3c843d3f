"""Planning a single-case study before the first session: the design planner.

:func:`plan` answers "how many baseline and treatment occasions, and how many
people, do I need?" for a data model, one or more decision rules, a target
power and a Type I constraint.  It

1. enumerates the integer grid of designs of a family (AB, ABAB, multiple
   baseline with staggered starts, AB with a random start point) up to a
   number of occasions per person;
2. prunes, without simulating, every design whose decision rule cannot reject
   at all: the smallest attainable p-value of an exact or randomization test
   is fixed by the number of admissible assignments (1 / C(m + n, m) for the
   exact permutation test, 1 / (number of start points) for an AB
   randomization test, 2^-k for a sign-flip test over k people), and a
   between-person test needs two people;
3. estimates the power of every remaining design by simulation with adaptive
   replications: a coarse run everywhere, then doubling the replications of a
   design only while its power is within Monte Carlo error of the target.
   Power is not monotone in the phase lengths (the attainable p-values jump:
   at d = 2 the exact NAP test has power .62 with 3 + 3 points but .56 with
   3 + 4), so the grid is searched, not bisected;
4. estimates the Type I error rate of each design (the same rule without an
   effect) and applies the constraint: nominal (not above alpha) or Bradley's
   (1978) liberal band 0.5 alpha - 1.5 alpha;
5. picks the cheapest design whose power clears the target by more than ``z``
   Monte Carlo standard errors, and lists the cheaper designs that are tied
   with the target within that error.

:func:`detectable_effect` is the sensitivity analysis: the smallest effect a
fixed design detects with the target power, by stochastic root-finding with
an interval (after the ProBABLI approach of Chalmers 2024).

Results depend only on the seed: each candidate's replications come from
``SeedSequence(stage seed, spawn_key=(candidate key, block))`` where the
candidate key hashes the design, the number of people and the effect (see
:func:`scedsim.simulate.runner.condition_key`), and whether a candidate gets
more replications depends on its own results only, so adding candidates to
the grid leaves the others' estimates unchanged.

References
----------
Bradley, J. V. (1978). Robustness? *British Journal of Mathematical and
Statistical Psychology*, 31(2), 144-152.

Chalmers, R. P. (2024). Solving variables with Monte Carlo simulation
experiments: A stochastic root-solving approach. *Psychological Methods*.
https://doi.org/10.1037/met0000689

Edgington, E. S. (1975). Randomization tests for one-subject operant
experiments. *The Journal of Psychology*, 90(1), 57-68.

Onghena, P. (1992). Randomization tests for extensions and variations of ABAB
single-case experimental designs: A rejoinder. *Behavioral Assessment*, 14,
153-171.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._validation import parse_scalar

__all__ = ["plan", "PlanResult", "detectable_effect", "DetectableEffect", "exact_facts", "FAMILIES"]

FAMILIES = ("AB", "ABAB", "MB", "AB_RANDOM", "MB_RANDOM", "ATD")
_UNSUPPORTED: dict = {}
_ALIASES = {"ALTERNATING": "ATD", "AT": "ATD", "ATD": "ATD", "MBD": "MB", "MULTIPLE_BASELINE": "MB",
            "AB": "AB", "ABAB": "ABAB", "MB": "MB", "REPLICATED_AB": "AB", "AB_RANDOM": "AB_RANDOM",
            "RAB": "AB_RANDOM", "RANDOM_AB": "AB_RANDOM", "MB_RANDOM": "MB_RANDOM", "RANDOM_MB": "MB_RANDOM",
            "MBD_RANDOM": "MB_RANDOM"}


# --------------------------------------------------------------------------- rules -> metrics



def spec_for_label(label: str):
    """The metric (or test) a rule's label names, e.g. ``"p_perm_nap"`` -> perm_test with
    statistic nap, ``"p_between_nap[method=sign_flip]"`` -> between_test with those
    options, ``"ird"`` -> the IRD metric."""
    from .registry import across_metrics, metric_names, tests, unknown_name
    from .simulate.analysis import MetricSpec

    base, _, rest = label.partition("[")
    opts = {}
    if rest:
        if not rest.endswith("]"):
            raise ValueError(f"cannot read the options of {label!r}; write e.g. p_between_nap[method=sign_flip]")
        for part in rest[:-1].split(","):
            k, eq, v = part.partition("=")
            if not eq:
                raise ValueError(f"cannot read option {part!r} of {label!r}; write key=value")
            opts[k.strip()] = parse_scalar(v.strip())
    if base in metric_names():
        return MetricSpec(base, opts)
    # Longest prefix first: p_between vs a hypothetical p_b.
    for t in sorted(tests().values(), key=lambda t: -len(t.prefix)):
        if base == t.prefix and not t.needs:
            return MetricSpec(t.name, opts)
        if base.startswith(t.prefix + "_") and len(t.needs) == 1:
            return MetricSpec(t.name, {t.needs[0]: base[len(t.prefix) + 1:], **opts})
    # Across-case metrics: bcsmd_reml reads as {name = "bcsmd", method = "reml"}.
    for a in across_metrics().values():
        if base == a.prefix:
            return MetricSpec(a.name, opts)
        if base.startswith(a.prefix + "_") and len(a.label_options) == 1:
            return MetricSpec(a.name, {a.label_options[0]: base[len(a.prefix) + 1:], **opts})
    raise unknown_name("metric or test label", label, metric_names() + tuple(t.prefix + "_<statistic>"
                                                                             for t in tests().values())
                       + tuple(f"{a.prefix}_<{'_'.join(a.label_options)}>" for a in across_metrics().values()))


def rule_specs(rules, metrics=None):
    """Parsed rules and the metric specs they need (``metrics`` adds or overrides specs)."""
    from .simulate.analysis import metric_specs
    from .simulate.measures import Rule, parse_rules

    if isinstance(rules, str):
        rules = [rules]
    if not rules:
        raise ValueError("plan needs at least one decision rule, e.g. 'p_perm_nap <= 0.05'")
    parsed = [Rule.parse(r) for r in rules]
    specs = {s.label: s for s in metric_specs(metrics)} if metrics else {}
    for r in parsed:
        label = (r.inner or r).metric
        if label not in specs:
            spec = spec_for_label(label)
            if spec.label != label:
                raise ValueError(f"rule {r.text!r}: {label!r} reads as {spec.label!r}; write that label "
                                 "(options in brackets, sorted by name)")
            specs[label] = spec
    specs = tuple(specs.values())
    return parse_rules(parsed, specs), specs


# --------------------------------------------------------------------------- designs

def _family(design: str) -> str:
    key = str(design).strip().upper().replace(" ", "_").replace("-", "_")
    fam = _ALIASES.get(key)
    if fam is None:
        raise ValueError(f"unknown design family {design!r}; expected one of AB, ABAB, MB (multiple baseline), "
                         "AB-random (AB with a random start point), MB-random (multiple baseline with random "
                         "start points), ATD (alternating treatments)")
    if fam in _UNSUPPORTED:
        raise ValueError(_UNSUPPORTED[fam])
    return fam


def design_text(family: str, m: int, n: int, cases: int, stagger: int = 1, max_run: Any = 2,
                scheme: str = "marascuilo_busk") -> str:
    """The simulator's design for a candidate.

    AB: ``A{m} B{n}``; ABAB: ``A{m} B{n} A{m} B{n}`` (m per baseline phase, n per
    treatment phase); MB: person k (k = 0..cases-1) has ``m + k * stagger``
    baseline and ``n + (cases - 1 - k) * stagger`` treatment points, so every
    person is measured on the same occasions and the starts are staggered.
    AB-random: ``m + n`` occasions whose baseline length is drawn, per person and
    replication, from ``m..n`` (every phase keeps at least ``m`` points; the
    design of :func:`scedsim.designs.AB` with ``min_phase = m``).
    MB-random: ``cases`` people on ``m + n`` occasions whose baseline lengths are
    drawn per replication: each from ``m..n`` independently (Marascuilo-Busk), or
    with ``scheme="koehler_levin"`` from ``cases`` consecutive disjoint tiers
    splitting ``m..n``, the people assigned to the tiers at random (the
    randomization of :class:`scedsim.designs.MultipleBaseline`).
    ATD: ``m`` A and ``n`` B occasions in a sequence drawn per replication, no
    condition more than ``max_run`` times in a row (``"ATD n=12 max_run=2"``).

    >>> design_text("ATD", 6, 6, 1), design_text("ATD", 5, 6, 1, max_run=3)
    ('ATD n=12 max_run=2', 'ATD n=11 max_run=3 n_per_condition=5/6')
    >>> design_text("MB_RANDOM", 3, 9, 3, scheme="koehler_levin")
    'MB n_time=12 starts=3-4,5-6,7-9 scheme=koehler_levin'
    """
    if family == "ATD":
        mr = "none" if max_run is None else int(max_run)
        return f"ATD n={m + n} max_run={mr}" + ("" if m == n else f" n_per_condition={m}/{n}")
    if family == "MB_RANDOM":
        return _mb_random_text(m, n, cases, scheme)
    if family == "AB_RANDOM":
        from . import designs

        return designs.AB(m + n, m).simulation_design(cases).describe()
    if family == "AB":
        return f"A{m} B{n}"
    if family == "ABAB":
        return f"A{m} B{n} A{m} B{n}"
    return " | ".join(f"A{m + k * stagger} B{n + (cases - 1 - k) * stagger}" for k in range(cases))


def _mb_tiers(m: int, n: int, cases: int) -> list:
    """``cases`` consecutive disjoint tiers of baseline lengths splitting ``m..n`` (the
    earlier tiers one shorter when they do not split evenly); [] when too few starts."""
    starts = list(range(m, n + 1))
    if len(starts) < cases:
        return []
    q, r = divmod(len(starts), cases)
    out, i = [], 0
    for k in range(cases):
        size = q + (1 if k >= cases - r else 0)
        out.append(starts[i:i + size])
        i += size
    return out


def _mb_random_text(m: int, n: int, cases: int, scheme: str) -> str:
    if scheme == "marascuilo_busk":
        return f"MB n_time={m + n} starts={m}-{n}"
    tiers = _mb_tiers(m, n, cases)
    if not tiers:
        raise ValueError(f"{n - m + 1} start points cannot give {cases} tiers")
    from .simulate.design import _window_text

    return f"MB n_time={m + n} starts={','.join(_window_text(t) for t in tiers)} scheme={scheme}"


def occasions(family: str, m: int, n: int, cases: int, stagger: int = 1) -> int:
    """Occasions per person."""
    if family == "ABAB":
        return 2 * (m + n)
    if family == "MB":
        return m + n + (cases - 1) * stagger
    return m + n


def _edgington_min(min_p: float, k: int) -> float:
    """Smallest combined p of Edgington's sum over k people, each at its smallest p."""
    from .inference.combine import _edgington_cdf

    return float(_edgington_cdf(np.array([k * min_p]), k)[0])


def exact_facts(family: str, m: int, n: int, cases: int, spec, stagger: int = 1, max_run: Any = 2,
                scheme: str = "marascuilo_busk") -> dict:
    """Exact facts of one candidate design for one test, without simulation.

    Returns ``{"n_assignments": int or None, "min_p": float}``: the size of the
    test's reference set (equally likely assignments under the null) where it
    has one, and the smallest p-value the test can reach in this design
    (minimum over people).  A metric that is not a test gives
    ``{"n_assignments": None, "min_p": None}``.

    This is the one place the planner's exact pruning asks: the smallest p is
    the registry's ``min_pvalue`` of each test (the runner's report uses the
    same), the counts come from :mod:`scedsim.designs` (Onghena's counting
    formulas) where the test's reference set is one of its designs.
    """
    from . import designs
    from .simulate.analysis import resolved_options
    from .simulate.design import Contrast, Design

    if not spec.is_test:
        return {"n_assignments": None, "min_p": None}
    design = Design.parse(design_text(family, m, n, cases, stagger, max_run, scheme), n_cases=cases)
    contrast = Contrast.parse(design.contrasts[0]) if design.contrasts else Contrast.parse("A:B")
    opts = resolved_options(spec, design)
    mins = []
    for k in range(design.n_cases):
        # Over every start point a person can draw (its own one in a fixed design).
        for s in design.start_distribution(k) if design.is_random else (None,):
            ia, ib = design.indices(contrast, k) if s is None else design.fixed(k, s).indices(contrast, 0)
            mins.append(float(spec.entry.min_pvalue(opts, ia.size, ib.size, design.n_cases)))
    min_p = min(mins)
    n_assign = None
    two = 2.0 if opts.get("alternative") == "two-sided" else 1.0
    ia, ib = design.indices(contrast, 0)
    if spec.name == "atd_test":
        # The ATD's admissible sequences (Onghena & Edgington 1994).
        n_assign = _atd_count(ia.size, ib.size, design.max_run)
    elif spec.name == "perm_test":
        # Every split of the pooled points into a + b is an assignment: a completely
        # randomized design with a A's and b B's, C(a + b, a) of them.
        n_assign = None if design.is_random else designs.CompletelyRandomized(
            ia.size + ib.size, "AB", n_per_condition=(ia.size, ib.size)).n_assignments()
    elif spec.name == "rand_test" and family in ("AB", "AB_RANDOM"):
        # The AB design with a random start point (Edgington 1975; Onghena 1992).
        n_assign = designs.AB(ia.size + ib.size, int(opts.get("min_phase", 2))).n_assignments()
    elif spec.name in ("rand_test", "mbd_test") or (spec.name == "between_test" and
                                                     opts.get("method", "t") != "t"):
        n_assign = int(round(two / min_p)) if min_p > 0 else None
    return {"n_assignments": n_assign, "min_p": min_p}


# --------------------------------------------------------------------------- results

@dataclass
class PlanResult:
    """What :func:`plan` returns.

    Attributes
    ----------
    best : dict or None
        The chosen design of the first rule: ``m``, ``n``, ``cases``,
        ``occasions``, ``power``, ``mcse``, ``type1``, ``type1_mcse``,
        ``min_p``, ``reps``, ``cost``, ``design``; None when no design clears
        the target (see ``message``).
    by_rule : dict
        Rule text -> its best design (or None).
    tied : dict
        Rule text -> cheaper (or equally cheap) designs whose power is within
        ``z`` MCSE of the target: they may reach it, the simulation cannot
        tell.
    candidates : DataFrame
        One row per rule and design: the exact facts, the status (``pruned``
        with the reason, ``type1`` when the Type I constraint fails, else
        ``reaches``, ``tied`` or ``below``), the power with its MCSE and the
        replications it took, the Type I error rate with its MCSE.
    settings : dict
        The question as asked (model, parameters, rules, target, constraint).
    message : str
        One line per rule saying what was found.
    """

    best: dict | None
    by_rule: dict
    tied: dict
    candidates: pd.DataFrame
    settings: dict
    message: str
    detectable: Any = None

    def to_json(self) -> dict:
        def clean(v):
            if isinstance(v, (np.integer,)):
                return int(v)
            if isinstance(v, (np.floating, float)):
                return None if not np.isfinite(v) else float(v)
            return v

        rows = [{k: clean(v) for k, v in r.items()} for r in self.candidates.to_dict("records")]
        out = {"best": None if self.best is None else {k: clean(v) for k, v in self.best.items()},
               "by_rule": {k: None if v is None else {kk: clean(vv) for kk, vv in v.items()}
                           for k, v in self.by_rule.items()},
               "tied": {k: [{kk: clean(vv) for kk, vv in t.items()} for t in v] for k, v in self.tied.items()},
               "candidates": rows, "settings": self.settings, "message": self.message}
        if self.detectable is not None:
            out["detectable_effect"] = self.detectable.to_json()
        return out

    def table(self, rule: str | None = None, max_rows: int = 30) -> str:
        """The candidate table as text: simulated designs (cheapest first), then
        the pruned ones counted by reason."""
        df = self.candidates
        if rule is not None:
            df = df[df.rule == rule]
        lines = []
        for r_text, g in df.groupby("rule", sort=False):
            lines.append(f"rule: {r_text}")
            sim = g[g.status != "pruned"].sort_values(["cost", "m", "n"])
            runs = "max_run" in g.columns  # an ATD: its run limit is part of the design
            lines.append(f"{'m':>3} {'n':>3} " + ("run " if runs else "")
                         + f"{'cases':>5} {'occ':>4} {'power':>6} {'mcse':>6} {'reps':>5} {'type1':>6} {'min_p':>8}  status")
            for r in sim.head(max_rows).to_dict("records"):
                mp = "" if r["min_p"] is None or not np.isfinite(r["min_p"]) else f"{r['min_p']:.4g}"
                lines.append(f"{r['m']:>3} {r['n']:>3} " + (f"{r['max_run']!s:>3} " if runs else "")
                             + f"{r['cases']:>5} {r['occasions']:>4} {r['power']:>6.3f} "
                             f"{r['mcse']:>6.3f} {r['reps']:>5} {r['type1']:>6.3f} {mp:>8}  {r['status']}")
            if len(sim) > max_rows:
                lines.append(f"... {len(sim) - max_rows} more simulated designs")
            pruned = g[g.status == "pruned"]
            for reason, cnt in pruned.reason.value_counts().items():
                lines.append(f"pruned without simulation: {cnt} design(s): {reason}")
        return "\n".join(lines)

    def figure(self, rule: str | None = None):
        """Power against occasions per person: every simulated design (grey, with
        2-MCSE bars) and, per number of people, the best split of each total
        (line); the target dashed, the chosen design starred."""
        import matplotlib.pyplot as plt

        df = self.candidates
        rule = rule or df.rule.iloc[0]
        df = df[(df.rule == rule) & df.power.notna()]
        fig, ax = plt.subplots(figsize=(7, 4.5))
        ax.errorbar(df.occasions, df.power, yerr=2 * df.mcse, fmt="o", ms=3, color="0.6", ecolor="0.75",
                    capsize=0, label="every split m + n")
        for k, g in df.groupby("cases"):
            top = g.loc[g.groupby("occasions").power.idxmax()].sort_values("occasions")
            ax.plot(top.occasions, top.power, "-o", ms=4, label=f"best split, {k} {'person' if k == 1 else 'people'}")
        ax.axhline(self.settings["power"], color="k", ls="--", lw=1, label="target")
        best = self.by_rule.get(rule)
        if best is not None:
            ax.plot([best["occasions"]], [best["power"]], "k*", ms=14, label=f"chosen: {best['design']}")
        ax.set_xlabel("occasions per person")
        ax.set_ylabel("power")
        ax.set_ylim(0, 1.02)
        ax.set_title(rule, fontsize=10)
        ax.legend(fontsize=7)
        fig.tight_layout()
        return fig


# --------------------------------------------------------------------------- simulation

def _stage_seed(seed: int, stage: int) -> int:
    """A study seed per stage; candidates are told apart by the runner's condition key."""
    return int(np.random.SeedSequence(int(seed), spawn_key=(stage,)).generate_state(1, np.uint64)[0] >> 1)


def _scope(rule, spec, cases: int) -> str:
    """The scope of the study-level decision: a count rule its count, an across-people
    test its replication p-value; with several people a per-person test is judged on
    Edgington's combined p and a per-person metric on its mean across people."""
    if rule.inner is not None:
        return "count"
    if spec.across:
        return "replication"
    if cases == 1:
        return "case"
    return "edgington" if spec.is_test else "mean"


def _simulate(rows: list[dict], model, params: dict, specs, rules, reps: int, seed: int, improvement,
              n_jobs: int) -> dict:
    """Rejection rate of every rule for every row (design, n_cases, level), each row a
    condition of one in-process simulator study: ``{(row index, rule text): rate}``."""
    from .simulate import Study, run

    if not rows:
        return {}
    grid = pd.DataFrame(rows)
    study = Study(design=rows[0]["design"], model=model, grid=grid, metrics=list(specs), rules=list(rules),
                  params=dict(params), n_reps=int(reps), seed=int(seed), estimands=False, improvement=improvement,
                  block_size=1000, max_error_rate=1.0, name="plan")
    res = run(study, n_jobs=n_jobs, quiet=True)
    summ = res.summary[res.summary.measure.isin(["rejection_rate", "valid_share"])]
    out = {}
    for i, row in enumerate(rows):
        sel = summ
        for k in ("design", "n_cases", "level"):
            sel = sel[sel[k] == row[k]]
        for rule, spec in zip(rules, _rule_spec_list(rules, specs)):
            scope = _scope(rule, spec, int(row["n_cases"]))
            s = sel[(sel.measure == "rejection_rate") & (sel.rule == rule.text) & (sel.scope == scope)]
            if not len(s):
                out[(i, rule.text)] = float("nan")
                continue
            # The simulator's rate is over defined values; a study whose test cannot be
            # computed (missing occasions) does not reject, so power counts it as a miss.
            v = sel[(sel.measure == "valid_share") & (sel.metric == spec.label) & (sel.scope == scope)]
            share = float(v.value.iloc[0]) if rule.inner is None and len(v) else 1.0
            out[(i, rule.text)] = float(s.value.iloc[0]) * share
    return out


def _rule_spec_list(rules, specs):
    by = {s.label: s for s in specs}
    return [by.get((r.inner or r).metric) for r in rules]


def _mcse(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 0.0) / n) if n else float("nan")


# --------------------------------------------------------------------------- plan

def _int_list(v, name):
    if v is None:
        return None
    if isinstance(v, (int, np.integer)):
        return [int(v)]
    if isinstance(v, str):
        out = []
        try:
            for part in v.split(","):
                if "-" in part:
                    lo, hi = (int(x) for x in part.split("-"))
                    out.extend(range(lo, hi + 1))
                else:
                    out.append(int(part))
        except ValueError:
            raise ValueError(f"cannot read {name} {v!r}; write e.g. 3, 2-8 or 2,4,6") from None
        v = out
    v = sorted({int(x) for x in v})
    if not v or v[0] < 1:
        raise ValueError(f"{name} must be positive integers, got {v!r}")
    return v


def plan(design: str = "AB", model: Any = "normal_ar1", params: dict | None = None, effect: float = 1.0,
         rules: Any = "p_perm_nap <= 0.05", power: float = 0.8, cases: Any = 1, max_occasions: int = 20,
         min_phase: int = 3, alpha: float | None = None, type1: str = "nominal", scale: str | None = None,
         m: Any = None, n: Any = None, stagger: int = 1, cost_occasion: float | None = None,
         cost_person: float | None = None, reps: int = 500, max_reps: int = 8000, type1_reps: int = 2000,
         z: float = 2.0, seed: int = 1, metrics=None, improvement: str | None = None,
         n_jobs: int = 1, max_run: Any = 2, scheme: str = "marascuilo_busk") -> PlanResult:
    """Find the cheapest single-case design that reaches a target power.

    Parameters
    ----------
    design : {"AB", "ABAB", "MB", "AB-random", "MB-random", "ATD"}
        Design family.  ``AB`` with ``cases`` > 1 is the replicated AB design;
        ``MB`` is a multiple baseline across ``cases`` people with baselines
        ``m, m + stagger, ...``; ``AB-random`` draws each person's start point
        anew in every replication (``m`` = ``min_phase`` is the shortest and
        ``n`` the longest baseline; pair it with a randomization test of the
        same ``min_phase``, e.g. ``"p_rand_mean_diff[min_phase=3] <= 0.05"``).
        ``MB-random`` is a multiple baseline across ``cases`` people whose start
        points are drawn per replication (``m`` = ``min_phase`` the shortest and
        ``n`` the longest baseline, as for AB-random; ``scheme``); pair it with
        the multiple-baseline randomization test over the design's own
        randomization, ``"p_mbd_mean_diff[tier_starts=design] <= 0.05"``.
        ``ATD`` is an alternating treatments design: ``m`` A and ``n`` B
        occasions (by default balanced, ``|m - n| <= 1``; give ``m`` and ``n``
        for others) in a sequence drawn per replication with runs of at most
        ``max_run``; pair it with its randomization test,
        ``"p_atd_mean_diff <= 0.05"``.  See :func:`design_text`.
    model : str or Model
        A simulator model: ``normal_ar1``, ``poisson``, ``negbin``,
        ``bounded_scale`` (see :mod:`scedsim.simulate.models`).
    params : dict
        The model's parameters (``phi``, ``sd``, ``rate``, ``center``, ...).
    effect : float
        The level change under the alternative (the model's ``level``): for
        ``normal_ar1`` in marginal SDs of the errors, in innovation SDs with
        ``scale="innovation"``.
    rules : str or list of str
        Decision rules in the simulator's syntax: ``"p_perm_nap <= 0.05"``,
        ``"p_rand_mean_diff[min_phase=3] <= 0.05"``,
        ``"p_between_nap[method=sign_flip] <= 0.05"``,
        ``"count(p_perm_nap <= 0.05) >= 2"``, ``"ird >= 0.7"``, band names.
        Each rule gets its own answer; the first is ``best``.  With several
        people a per-person test is judged by Edgington's combined p-value and a
        per-person metric by its mean; write ``count(...) >= k`` for k of N.
    power : float
        Target power.
    cases : int, str or list of int
        Numbers of people to consider (``"2-8"``).
    max_occasions : int
        Most occasions per person.
    min_phase : int
        Fewest points per phase.
    alpha : float, optional
        The Type I level; default the rule's own threshold for a p-value rule,
        else 0.05.
    type1 : {"nominal", "bradley", "none"}
        The Type I constraint: the estimated rate may not exceed alpha
        (nominal), must lie in Bradley's liberal band [0.5 alpha, 1.5 alpha],
        or is only reported.  A design fails only when its rate is outside by
        more than ``z`` MCSE.
    m, n : int, str or list of int, optional
        Restrict the baseline / treatment lengths.
    cost_occasion, cost_person : float, optional
        Costs: a design costs ``cost_occasion * occasions * cases +
        cost_person * cases``.  Default: fewest occasions per person, then
        fewest people.
    reps, max_reps : int
        Replications of the coarse pass, and the most a design gets (doubling
        while its power is within 3 MCSE of the target).
    type1_reps : int
        Replications of each Type I estimate.
    z : float
        A design reaches the target when its power exceeds it by more than ``z``
        MCSE; within ``z`` MCSE it is tied.
    seed : int
        Master seed; the answer depends on it only (not on ``n_jobs``).
    max_run : int, None, str or list
        ATD only: the longest admissible run of one condition; several values
        (``"2-3"``, ``[2, 3]``) are searched as separate candidates, ``None``
        (or ``"none"``) lifts the limit.
    scheme : {"marascuilo_busk", "koehler_levin"}
        MB-random only: independent starts per person, or staggered tiers with
        the people assigned to them at random.

    Returns
    -------
    PlanResult

    Notes
    -----
    Type I rates are exact (not simulated) where the null distribution of the
    decision is known: an exact test on exchangeable data (one person; a
    count rule "k of N people with p <= alpha", a binomial tail over the
    people's exact per-person rates; several people judged on Edgington's
    combined p, from the exact distribution of the sum of their p-values),
    and the randomization test of a design
    whose assignment is drawn in the simulation (ATD, MB-random) with the mean
    difference, under any null model whose data do not depend on the
    assignment: the observed assignment's rank is then uniform over the K
    admissible ones, so P(p <= alpha) = floor(alpha K) / K.

    References
    ----------
    Bradley, J. V. (1978). Robustness? *British Journal of Mathematical and
    Statistical Psychology*, 31(2), 144-152.

    Edgington, E. S. (1975). Randomization tests for one-subject operant
    experiments. *The Journal of Psychology*, 90(1), 57-68.

    Examples
    --------
    With d = 2 and exchangeable data, 3 + 3 points reach power .5 with the exact
    NAP test (its exact Type I rate is 1/20):

    >>> from scedsim.plan import plan
    >>> res = plan("AB", "normal_ar1", {"phi": 0.0}, effect=2.0, rules="p_perm_nap <= 0.05",
    ...            power=0.5, max_occasions=6, reps=400, max_reps=400, type1_reps=100, seed=1)
    >>> res.best["m"], res.best["n"], res.best["type1"]
    (3, 3, 0.05)
    """
    fam = _family(design)
    params = dict(params or {})
    if scale is not None:
        params["scale"] = scale
    if "level" in params:
        raise ValueError("give the effect as effect=..., not as the model parameter 'level'")
    if not np.isfinite(effect):
        raise ValueError(f"effect must be a finite number, got {effect!r}")
    if not 0.0 < float(power) < 1.0:
        raise ValueError(f"power must lie strictly between 0 and 1, got {power!r}")
    if type1 not in ("nominal", "bradley", "none"):
        raise ValueError(f"unknown type1 constraint {type1!r}; expected 'nominal', 'bradley' or 'none'")
    if int(min_phase) < 1 or int(max_occasions) < 2 * int(min_phase):
        raise ValueError(f"max_occasions ({max_occasions}) must allow two phases of min_phase ({min_phase}) points")
    for k, v in (("reps", reps), ("max_reps", max_reps), ("type1_reps", type1_reps)):
        if not isinstance(v, (int, np.integer)) or v < 10:
            raise ValueError(f"{k} must be an integer of at least 10, got {v!r}")
    if (cost_occasion is None) != (cost_person is None):
        raise ValueError("give both cost_occasion and cost_person, or neither")
    case_list = _int_list(cases, "cases")
    if fam in ("MB", "MB_RANDOM") and case_list[0] < 2:
        raise ValueError("a multiple-baseline design needs at least 2 people (cases)")
    if scheme not in ("marascuilo_busk", "koehler_levin"):
        raise ValueError(f"unknown scheme {scheme!r}; expected 'marascuilo_busk' or 'koehler_levin'")
    run_list = _run_list(max_run) if fam == "ATD" else [None]
    m_list, n_list = _int_list(m, "m"), _int_list(n, "n")
    rule_list, specs = rule_specs(rules, metrics)
    from .simulate.models import get_model

    model_obj = get_model(model, improvement or "increase")
    params, improvement = _direction(model_obj, params, improvement)
    model_obj.params(params)  # unknown parameters raise here
    spec_list = _rule_spec_list(rule_list, specs)

    # ---- the grid and the exact facts
    cands = []
    if fam == "ATD":
        for r, spec in zip(rule_list, spec_list):
            if spec.name in ("rand_test", "mbd_test"):
                raise ValueError(f"{spec.label}: a start-point randomization test does not fit an alternating "
                                 "treatments design; use its own test, e.g. p_atd_mean_diff <= 0.05")
    if fam in ("AB_RANDOM", "MB_RANDOM"):
        if m_list or n_list:
            raise ValueError(f"{'AB' if fam == 'AB_RANDOM' else 'MB'}-random designs are searched by their number "
                             "of occasions; m and n are fixed by min_phase (shortest baseline) and the total "
                             "(longest baseline)")
        for r, spec in zip(rule_list, spec_list):
            if spec.name == "rand_test" and int(spec.options.get("min_phase", 2)) != int(min_phase):
                raise ValueError(f"{spec.label}: the randomization test's reference set must be the design's; "
                                 f"write min_phase={int(min_phase)} in the rule, e.g. "
                                 f"p_rand_{spec.options['statistic']}[min_phase={int(min_phase)}]")
        m_list = [int(min_phase)]
    for k in case_list:
        for mm in range(int(min_phase), int(max_occasions)):
            for nn in range(int(min_phase), int(max_occasions)):
                if (m_list and mm not in m_list) or (n_list and nn not in n_list):
                    continue
                occ = occasions(fam, mm, nn, k, stagger)
                if occ > max_occasions or (fam in ("AB_RANDOM", "MB_RANDOM") and nn < mm):
                    continue
                if fam == "ATD" and not (m_list or n_list) and abs(mm - nn) > 1:
                    continue  # balanced by default: each condition half of the occasions
                if fam == "MB_RANDOM" and scheme == "koehler_levin" and nn - mm + 1 < k:
                    continue  # fewer start points than tiers
                cost = (cost_occasion * occ * k + cost_person * k) if cost_occasion is not None else occ * 1000 + k
                for mr in run_list:
                    extra = {"max_run": "none" if mr is None else mr} if fam == "ATD" else {}
                    cands.append(dict(m=mm, n=nn, cases=k, occasions=occ, cost=float(cost), **extra,
                                      design=design_text(fam, mm, nn, k, stagger, mr, scheme)))
    if not cands:
        raise ValueError("no design on the grid: check m, n, min_phase and max_occasions")
    rows = []
    for rule, spec in zip(rule_list, spec_list):
        inner = rule.inner or rule
        is_p = spec.is_test and inner.op in ("<=", "<")
        a = float(alpha) if alpha is not None else (inner.value if is_p and rule.inner is None else 0.05)
        for c in cands:
            mr = _mr(c)
            if fam == "ATD" and _atd_count(c["m"], c["n"], mr) == 0:
                rows.append(dict(rule=rule.text, **c, alpha=a, n_assignments=0, min_p=float("nan"), status="pruned",
                                 reason=f"no sequence of {c['m']} A and {c['n']} B occasions keeps every run at "
                                        f"most {mr} long", power=float("nan"), mcse=float("nan"), reps=0,
                                 type1=float("nan"), type1_mcse=float("nan")))
                continue
            facts = exact_facts(fam, c["m"], c["n"], c["cases"], spec, stagger, mr, scheme)
            reason = ""
            if c["cases"] < getattr(spec.entry, "min_cases", 1):
                reason = f"{spec.label} needs at least {spec.entry.min_cases} people"
            elif rule.inner is not None and rule.op in (">=", ">") and rule.value > c["cases"] - (rule.op == ">"):
                reason = f"{rule.text} asks for more people than the design has"
            elif is_p and facts["min_p"] is not None:
                mp = facts["min_p"]
                if rule.inner is None and c["cases"] > 1 and not spec.across:
                    mp = _edgington_min(facts["min_p"], c["cases"])
                if mp > inner.value + 1e-12 or (inner.op == "<" and mp >= inner.value - 1e-12):
                    na = facts["n_assignments"]
                    reason = (f"smallest attainable p = {mp:.4g} > {inner.value:g}"
                              + (f" ({na} admissible assignments)" if na else ""))
            rows.append(dict(rule=rule.text, **c, alpha=a, n_assignments=facts["n_assignments"],
                             min_p=facts["min_p"] if facts["min_p"] is not None else float("nan"),
                             status="pruned" if reason else "", reason=reason, power=float("nan"),
                             mcse=float("nan"), reps=0, type1=float("nan"), type1_mcse=float("nan")))
    df = pd.DataFrame(rows)
    imp = improvement

    # ---- power: coarse pass, then doubling where the power is near the target
    live = sorted({i for i, r in enumerate(cands)
                   if (df[(df.design == r["design"]) & (df.cases == r["cases"])].status != "pruned").any()})
    rates: dict[tuple[int, str], list[tuple[float, int]]] = {}
    stage, stage_reps, todo = 0, int(reps), live
    while todo:
        sim_rows = [dict(design=cands[i]["design"], n_cases=cands[i]["cases"], level=float(effect)) for i in todo]
        got = _simulate(sim_rows, model, params, specs, rule_list, stage_reps, _stage_seed(seed, stage), imp, n_jobs)
        for j, i in enumerate(todo):
            for rule in rule_list:
                rates.setdefault((i, rule.text), []).append((got[(j, rule.text)], stage_reps))
        nxt = []
        total = int(reps) * 2 ** stage
        if total * 2 <= max_reps:
            for i in todo:
                for rule in rule_list:
                    p, nn_ = _pooled(rates[(i, rule.text)])
                    pt = (p * nn_ + 1) / (nn_ + 2)  # keeps a 0 or 1 from ending the refinement
                    if abs(p - power) < 3 * math.sqrt(pt * (1 - pt) / nn_):
                        nxt.append(i)
                        break
        stage += 1
        stage_reps = total  # doubling: the new stage adds as many as all before
        todo = nxt
    # ---- Type I: the same designs without an effect.  Exchangeable data give an exact
    # test's rate from its null distribution; the others are simulated (always: with
    # type1="none" the rate is reported, not applied).
    key = {(c["design"], c["cases"]): i for i, c in enumerate(cands)}
    by_text = dict(zip((r.text for r in rule_list), zip(rule_list, spec_list)))
    exch = _exchangeable(model_obj, params)
    free = _assignment_free(model_obj, params)
    exact_t1 = {}
    for i in live:
        c = cands[i]
        for rule, spec in zip(rule_list, spec_list):
            exact_t1[(i, rule.text)] = _exact_type1(rule, spec, fam, c["m"], c["n"], c["cases"], stagger,
                                                    exch, free, _mr(c), scheme)
    need = [i for i in live if any(exact_t1[(i, r.text)] is None for r in rule_list)]
    t1 = {}
    sim_rows = [dict(design=cands[i]["design"], n_cases=cands[i]["cases"], level=0.0) for i in need]
    got = _simulate(sim_rows, model, params, specs, rule_list, int(type1_reps), _stage_seed(seed, 1000), imp, n_jobs)
    for j, i in enumerate(need):
        for rule in rule_list:
            t1[(i, rule.text)] = got[(j, rule.text)]
    df["type1_exact"] = False
    for idx, r in df.iterrows():
        if r.status == "pruned":
            continue
        i = key[(r.design, r.cases)]
        p, nn_ = _pooled(rates[(i, r.rule)])
        df.at[idx, "power"], df.at[idx, "mcse"], df.at[idx, "reps"] = p, _mcse(p, nn_), nn_
        exact = exact_t1[(i, r.rule)]
        if exact is None:
            q, qse = t1[(i, r.rule)], _mcse(t1[(i, r.rule)], int(type1_reps))
        else:
            q, qse = exact, 0.0  # exchangeable data: the test's exact null distribution
            df.at[idx, "type1_exact"] = True
        df.at[idx, "type1"], df.at[idx, "type1_mcse"] = q, qse
        a = r.alpha
        if type1 == "nominal" and q - z * qse > a:
            df.at[idx, "status"] = "type1"
            df.at[idx, "reason"] = f"Type I rate {q:.3f} above alpha = {a:g}"
        elif type1 == "bradley" and (q - z * qse > 1.5 * a or q + z * qse < 0.5 * a):
            df.at[idx, "status"] = "type1"
            df.at[idx, "reason"] = f"Type I rate {q:.3f} outside Bradley's band [{0.5 * a:g}, {1.5 * a:g}]"
        elif not np.isfinite(p):
            df.at[idx, "status"] = "failed"
            df.at[idx, "reason"] = "no valid replications"
        else:
            se = _mcse(p, nn_)
            df.at[idx, "status"] = ("reaches" if p - z * se > power else
                                    "tied" if p + z * se >= power else "below")
    df["reps"] = df["reps"].astype(int)

    # ---- the answer per rule
    keys = ["m", "n", "cases", "occasions", "power", "mcse", "type1", "type1_mcse", "type1_exact", "min_p", "reps",
            "cost", "design"]
    by_rule, tied, msgs = {}, {}, []
    for rule in rule_list:
        g = df[df.rule == rule.text]
        ok = g[g.status == "reaches"].sort_values(["cost", "power"], ascending=[True, False])
        best = ok.iloc[0][keys].to_dict() if len(ok) else None
        limit = best["cost"] if best is not None else np.inf
        tie = g[(g.status == "tied") & (g.cost <= limit)].sort_values(["cost", "m", "n"])
        by_rule[rule.text] = best
        tied[rule.text] = [t[keys].to_dict() for _, t in tie.iterrows()]
        if best is None:
            liberal = int(((g.status == "type1") & (g.power - z * g.mcse > power)).sum())
            msgs.append(f"{rule.text}: no design up to {max_occasions} occasions per person clears power "
                        f"{power:g}" + (f"; {len(tie)} design(s) tied with the target within {z:g} MCSE"
                                        if len(tie) else "")
                        + (f"; {liberal} design(s) reach it but fail the Type I constraint ({type1})"
                           if liberal else ""))
        else:
            who = "person" if best["cases"] == 1 else "people"
            ties = ", ".join(f"{t['design']} x{t['cases']} ({t['power']:.3f})" for t in tied[rule.text])
            msgs.append(f"{rule.text}: {best['design']} with {best['cases']} {who} ({best['occasions']} occasions "
                        f"each): power {best['power']:.3f} (MCSE {best['mcse']:.3f}), Type I {best['type1']:.3f}"
                        + (f"; cheaper or as cheap and tied within {z:g} MCSE: {ties}" if ties else ""))
    settings = dict(design=fam, model=model if isinstance(model, str) else getattr(model, "name", str(model)),
                    params=params, effect=float(effect), rules=[r.text for r in rule_list], power=float(power),
                    cases=case_list, max_occasions=int(max_occasions), min_phase=int(min_phase), type1=type1,
                    z=float(z), reps=int(reps), max_reps=int(max_reps), type1_reps=int(type1_reps), seed=int(seed),
                    stagger=int(stagger), cost_occasion=cost_occasion, cost_person=cost_person)
    if fam == "ATD":
        settings["max_run"] = ["none" if r is None else r for r in run_list]
    if fam == "MB_RANDOM":
        settings["scheme"] = scheme
    first = by_rule[rule_list[0].text]
    return PlanResult(first, by_rule, tied, df, settings, "\n".join(msgs))


def _direction(model_obj, params: dict, improvement):
    """A model that carries the direction of improvement (``bounded_scale``) gets it as
    a parameter, so that a positive effect is an improvement in the data too."""
    defaults = getattr(model_obj, "defaults", {})
    if improvement is not None and "improvement" in defaults:
        given = params.get("improvement")
        if given is not None and given != improvement:
            raise ValueError(f"improvement={improvement!r} contradicts the model parameter improvement={given!r}")
        params = {**params, "improvement": improvement}
    return params, improvement


def _exchangeable(model_obj, params: dict) -> bool:
    """Independent, identically distributed continuous data without an effect: the
    null distribution of an exact test's p-value is then known exactly."""
    if getattr(model_obj, "name", None) != "normal_ar1":
        return False
    p = model_obj.params(params)
    return all(float(p.get(k, 0.0)) == 0.0 for k in ("phi", "trend", "slope", "effect_sd", "missing_rate",
                                                      "outlier_rate"))


def _assignment_free(model_obj, params: dict) -> bool:
    """Continuous data that do not depend on the assignment when the effect is off
    (normal errors, any phi, trend or intercepts; no random effect, missing values,
    outliers, shock or selection): a randomization test over the assignment the
    simulation draws is then exact whatever the autocorrelation."""
    from .simulate.models import EXTRAS

    if getattr(model_obj, "name", None) != "normal_ar1":
        return False
    p = model_obj.params(params)
    extras_off = all(p.get(k, d) in (d, None, 0, 0.0) for k, d in EXTRAS.items()
                     if k not in ("outlier_k", "outlier_sign", "shock_at", "onset"))
    noisy = float(p.get("sd", 0.0)) > 0.0 or float(p.get("me_sd", 0.0)) > 0.0
    return extras_off and noisy and all(float(p.get(k, 0.0)) == 0.0
                                        for k in ("effect_sd", "missing_rate", "slope"))


def _hit_rate(null: np.ndarray, op: str, value: float) -> float:
    hit = null <= value + 1e-12 if op == "<=" else null < value - 1e-12
    return float(np.mean(hit))


def _exact_type1(rule, spec, family, m, n, cases, stagger=1, exchangeable=True, assignment_free=False,
                 max_run=2, scheme="marascuilo_busk") -> float | None:
    """The Type I rate from exact null distributions, or None where it must be simulated.

    * One person, an exact test with a known null distribution of its p-value
      (``null_pvalues``) on exchangeable data: P(p <= alpha) over it.
    * A randomization test over the assignment drawn in the simulation (the ATD
      test; the multiple-baseline test over the design's own randomization), with
      the mean difference and data that do not depend on the assignment: the
      observed assignment's rank is uniform over the K admissible ones (their
      statistics differ on continuous data), so P(p <= alpha) = floor(alpha K)/K.
    * A count rule ``count(p <= a) >= k`` over people with such per-person rates
      q_j: the tail of the Poisson-binomial distribution of the count
      (independent people; a binomial when the q_j are equal).
    * Several people judged on Edgington's combined p-value of such per-person
      tests: the exact distribution of the sum of their p-values (see
      :func:`_edgington_type1`).
    """
    from .simulate.analysis import resolved_options
    from .simulate.design import Contrast, Design

    inner = rule.inner or rule
    if not spec.is_test or inner.op not in ("<=", "<"):
        return None
    if rule.inner is not None and (rule.op not in (">=", ">") or spec.across):
        return None
    design = Design.parse(design_text(family, m, n, cases, stagger, max_run, scheme), n_cases=cases)
    drawn = design.draws_sequences or design.is_random
    opts = resolved_options(spec, design)
    if spec.across:
        # The multiple-baseline test over the design's own randomization.
        if rule.inner is not None or not (assignment_free and drawn and spec.name == "mbd_test") \
                or spec.options.get("tier_starts") != "design" \
                or opts.get("statistic") != "mean_diff" or opts.get("alternative", "greater") == "two-sided":
            return None
        mp = float(spec.entry.min_pvalue(opts, 0, 0, cases))
        k = int(round(1.0 / mp))
        if k > int(opts.get("max_arrangements", 200_000)):
            return None
        return _hit_rate(np.arange(1, k + 1) / k, inner.op, inner.value)
    if spec.entry.null_pvalues is None:
        return None
    if spec.name == "atd_test":
        ok = assignment_free and design.draws_sequences
    else:
        ok = exchangeable and not design.is_random
    if not ok:
        return None
    rates, nulls = [], []
    for k in range(cases):
        ia, ib = design.indices(Contrast.parse("A:B"), k)
        null = spec.entry.null_pvalues(opts, ia.size, ib.size)
        if null is None:
            return None
        nulls.append(np.asarray(null, dtype=np.float64))
        rates.append(_hit_rate(null, inner.op, inner.value))
    if rule.inner is None:
        return rates[0] if cases == 1 else _edgington_type1(nulls, inner.op, inner.value)
    # P(count >= k) (or > k) for independent people with rates q_j: the count's distribution by convolution.
    dist = np.array([1.0])
    for q in rates:
        dist = np.convolve(dist, [1.0 - q, q])
    need = int(math.ceil(rule.value)) if rule.op == ">=" else int(math.floor(rule.value)) + 1
    return float(dist[max(need, 0):].sum()) if need <= cases else 0.0


def _edgington_type1(nulls, op: str, alpha: float) -> float | None:
    """P(Edgington's combined p <= alpha) for independent people whose p-values follow
    the exact null distributions ``nulls`` (equally likely values, each a multiple of
    1 / N for its N values, as an exact test's are): the distribution of their sum
    by convolution on the common grid of 1 / N, then the Irwin-Hall CDF at each sum,
    as :func:`scedsim.inference.combine_pvalues` computes the combined p."""
    from .inference.combine import _edgington_cdf

    sizes = {len(x) for x in nulls}
    if len(sizes) != 1:
        return None
    N = sizes.pop()
    dist = None
    for null in nulls:
        t = np.rint(null * N)
        if not np.allclose(t, null * N, rtol=0, atol=1e-6) or t.min() < 0:
            return None
        d = np.bincount(t.astype(np.int64), minlength=N + 1) / N
        if dist is None:
            dist = d
        elif dist.size * d.size <= 10 ** 7:
            dist = np.convolve(dist, d)
        else:
            from scipy.signal import fftconvolve

            dist = np.clip(fftconvolve(dist, d), 0.0, None)
    combined = _edgington_cdf(np.arange(dist.size) / N, len(nulls))
    return _hit_rate_weighted(combined, dist, op, alpha)


def _hit_rate_weighted(values, weights, op: str, value: float) -> float:
    hit = values <= value + 1e-12 if op == "<=" else values < value - 1e-12
    return float(weights[hit].sum())


def _atd_count(m: int, n: int, max_run) -> int:
    from .inference.alternating import atd_count

    return atd_count(m + n, max_run, m, n)


def _mr(c: dict):
    v = c.get("max_run", 2)
    return None if v == "none" else v


def _run_list(v) -> list:
    """ATD run limits to search: ints, ranges ("2-3") and "none" (no limit)."""
    if v is None:
        return [None]
    parts = v.split(",") if isinstance(v, str) else (list(v) if isinstance(v, (list, tuple)) else [v])
    out = set()
    for p in parts:
        if p is None or str(p).strip().lower() == "none":
            out.add(None)
        else:
            out.update(_int_list(p if isinstance(p, str) else int(p), "max_run"))
    return sorted(out, key=lambda x: (x is None, x or 0))


def _pooled(parts):
    n = sum(k for _, k in parts)
    hits = sum(p * k for p, k in parts if np.isfinite(p))
    return (hits / n if n else float("nan")), n


# --------------------------------------------------------------------------- sensitivity

@dataclass
class DetectableEffect:
    """The smallest effect a fixed design detects with the target power.

    Attributes
    ----------
    effect : float
        The root of fitted power(effect) = target.
    ci_lower, ci_upper : float
        Its 95% interval (delta method on the local logistic fit).
    power_at_effect, mcse : float
        A separate confirmation run at ``effect``.
    evaluations : DataFrame
        Every (effect, reps, rejections) evaluated.
    """

    effect: float
    ci_lower: float
    ci_upper: float
    power_at_effect: float
    mcse: float
    target: float
    design: str
    cases: int
    rule: str
    evaluations: pd.DataFrame = field(repr=False, default=None)

    def to_json(self) -> dict:
        return {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in self.__dict__.items()
                if k != "evaluations"}


def _logit_fit(x, k, n):
    """Binomial logistic regression logit p = a + b x by Newton's method; (coef, cov)."""
    X = np.column_stack([np.ones_like(x), x])
    beta = np.zeros(2)
    for _ in range(50):
        eta = np.clip(X @ beta, -30, 30)
        p = 1.0 / (1.0 + np.exp(-eta))
        w = n * p * (1 - p) + 1e-12
        g = X.T @ (k - n * p)
        H = X.T @ (X * w[:, None])
        step = np.linalg.solve(H, g)
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    eta = np.clip(X @ beta, -30, 30)
    p = 1.0 / (1.0 + np.exp(-eta))
    H = X.T @ (X * (n * p * (1 - p) + 1e-12)[:, None])
    return beta, np.linalg.inv(H)


def detectable_effect(design: str = "AB", m: int = 3, n: int = 4, cases: int = 1, model: Any = "normal_ar1",
                      params: dict | None = None, rule: str = "p_perm_nap <= 0.05", power: float = 0.8,
                      lo: float = 0.0, hi: float = 4.0, rounds: int = 4, points: int = 6, reps: int = 250,
                      confirm_reps: int = 4000, scale: str | None = None, stagger: int = 1, seed: int = 1,
                      metrics=None, improvement: str | None = None, n_jobs: int = 1, max_run: Any = 2,
                      scheme: str = "marascuilo_busk") -> DetectableEffect:
    """Sensitivity analysis: the smallest effect that a fixed design detects with
    the target power, by stochastic root-finding (Chalmers 2024, ProBABLI).

    Round 0 evaluates ``points`` effects spread over [lo, hi] with ``reps``
    replications each; every next round halves the bracket around the current
    root of a logistic fit of the rejections on the effect and doubles the
    replications.  The last rounds' fit gives the root and its delta-method 95%
    interval; a final run at the root confirms its power.

    References
    ----------
    Chalmers, R. P. (2024). Solving variables with Monte Carlo simulation
    experiments: A stochastic root-solving approach. *Psychological Methods*.
    https://doi.org/10.1037/met0000689

    Examples
    --------
    >>> from scedsim.plan import detectable_effect
    >>> d = detectable_effect("AB", 5, 5, params={"phi": 0.0}, power=0.8, rounds=2, reps=100,
    ...                       confirm_reps=200, seed=3)
    >>> 1.0 < d.effect < 3.0
    True
    """
    fam = _family(design)
    params = dict(params or {})
    if scale is not None:
        params["scale"] = scale
    if not 0 < power < 1:
        raise ValueError(f"power must lie strictly between 0 and 1, got {power!r}")
    if not hi > lo:
        raise ValueError(f"the effect bracket needs lo < hi, got [{lo}, {hi}]")
    rule_list, specs = rule_specs([rule], metrics)
    from .simulate.models import get_model

    params, improvement = _direction(get_model(model, improvement or "increase"), params, improvement)
    max_run = _run_list(max_run)[0] if fam == "ATD" else None
    text = design_text(fam, int(m), int(n), int(cases), stagger, max_run, scheme)
    spec = _rule_spec_list(rule_list, specs)[0]
    facts = exact_facts(fam, int(m), int(n), int(cases), spec, stagger, max_run, scheme)
    inner = rule_list[0].inner or rule_list[0]
    if facts["min_p"] is not None and inner.op in ("<=", "<") and rule_list[0].inner is None and int(cases) == 1 \
            and facts["min_p"] > inner.value + 1e-12:
        raise ValueError(f"{text}: the smallest attainable p of {spec.label} is {facts['min_p']:.4g} > "
                         f"{inner.value:g}: no effect is detectable")
    evals = []
    centre, width = (lo + hi) / 2, (hi - lo) / 2
    root = centre
    for r in range(int(rounds)):
        xs = np.linspace(max(lo, centre - width), min(hi, centre + width), int(points))
        nr = int(reps) * 2 ** r
        rows = [dict(design=text, n_cases=int(cases), level=float(x)) for x in xs]
        got = _simulate(rows, model, params, specs, rule_list, nr, _stage_seed(seed, 2000 + r), improvement, n_jobs)
        for j, x in enumerate(xs):
            evals.append(dict(round=r, effect=float(x), reps=nr, rejections=got[(j, rule_list[0].text)] * nr))
        ev = pd.DataFrame(evals)
        use = ev[ev["round"] >= max(0, r - 1)]
        beta, cov = _logit_fit(use.effect.to_numpy(), use.rejections.to_numpy(), use.reps.to_numpy(float))
        if beta[1] <= 0:
            root = float(use.effect[use.rejections / use.reps >= power].min()) if \
                (use.rejections / use.reps >= power).any() else hi
        else:
            root = float((math.log(power / (1 - power)) - beta[0]) / beta[1])
        root = min(max(root, lo), hi)
        centre, width = root, width / 2
    lt = math.log(power / (1 - power))
    if beta[1] > 0:
        grad = np.array([-1.0 / beta[1], -(lt - beta[0]) / beta[1] ** 2])
        se = float(math.sqrt(max(grad @ cov @ grad, 0.0)))
    else:
        se = float("nan")
    got = _simulate([dict(design=text, n_cases=int(cases), level=float(root))], model, params, specs, rule_list,
                    int(confirm_reps), _stage_seed(seed, 3000), improvement, n_jobs)
    pw = got[(0, rule_list[0].text)]
    return DetectableEffect(root, root - 1.96 * se, root + 1.96 * se, pw, _mcse(pw, int(confirm_reps)), power,
                            text, int(cases), rule_list[0].text, pd.DataFrame(evals))
