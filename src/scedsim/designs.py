"""Randomized single-case designs: admissible assignments, counts, draws and exact tests.

A randomized design is a set of admissible *assignments* of conditions to
measurement occasions, one of which is drawn at random before the study
starts (Edgington & Onghena 2007; Heyvaert & Onghena 2014).  Every design
here gives

* :meth:`~RandomizedDesign.n_assignments`: the exact size of that set, by the
  counting formulas of Onghena (1992) and Onghena & Edgington (2005) (checked
  against brute-force enumeration in the tests);
* :meth:`~RandomizedDesign.assignments`: the set itself, and
  :meth:`~RandomizedDesign.sample` / :meth:`~RandomizedDesign.draw` for
  random members of it;
* :meth:`~RandomizedDesign.min_p`: the smallest p-value a randomization test
  on the design can attain (1 / count when every assignment is equally likely
  and the statistics are distinct), the number a planner checks first;
* :meth:`~RandomizedDesign.test`: the exact randomization test of the drawn
  assignment against the whole set (Monte Carlo when the set is too large).

An assignment is an integer array of shape ``(n_cases, n_time)``: the index in
:attr:`~RandomizedDesign.labels` of the condition given at each occasion.

Families
--------
:func:`AB`, :func:`ABA`, :func:`ABAB` (:class:`PhaseDesign`)
    phase designs with randomly chosen phase-change points, every phase at
    least ``min_phase`` long (Edgington 1975; Onghena 1992).
:class:`AlternatingTreatments`
    conditions assigned to occasions at random, a fixed number each, no
    condition more than ``max_run`` times in a row (Onghena & Edgington 1994).
:class:`CompletelyRandomized`
    the same without the run limit (Edgington & Onghena 2007, ch. 11).
:class:`RandomizedBlock`
    every block of consecutive occasions holds each condition once, in random
    order (Edgington & Onghena 2007).
:class:`MultipleBaseline`
    AB series of several cases with staggered random starts: Marascuilo &
    Busk (1988), Wampold & Worsham (1986) and Koehler & Levin (1998) schemes
    (see Levin, Ferron & Gafurov 2017 for a comparison).
:class:`Custom`
    any list of admissible assignments, each equally likely.

References
----------
Edgington, E. S. (1975). Randomization tests for one-subject operant
experiments. *The Journal of Psychology*, 90(1), 57-68.

Edgington, E. S., & Onghena, P. (2007). *Randomization tests* (4th ed.).
Chapman & Hall/CRC.

Heyvaert, M., & Onghena, P. (2014). Randomization tests for single-case
experiments: State of the art, state of the science, and state of the
application. *Journal of Contextual Behavioral Science*, 3(1), 51-64.

Onghena, P. (1992). Randomization tests for extensions and variations of ABAB
single-case experimental designs: A rejoinder. *Behavioral Assessment*, 14(2),
153-171.

Onghena, P., & Edgington, E. S. (1994). Randomization tests for restricted
alternating treatments designs. *Behaviour Research and Therapy*, 32(7),
783-786.

Onghena, P., & Edgington, E. S. (2005). Customization of pain treatments:
Single-case design and analysis. *The Clinical Journal of Pain*, 21(1), 56-68.

Levin, J. R., Ferron, J. M., & Gafurov, B. S. (2017). Additional comparisons of
randomization-test procedures for single-case multiple-baseline designs:
Alternative effect types. *Journal of School Psychology*, 63, 13-34.

Examples
--------
>>> from scedsim import designs
>>> designs.AB(7, min_phase=3).n_assignments()     # the seven-point study
2
>>> d = designs.ABAB(12, min_phase=2)
>>> d.n_assignments(), d.min_p()
(35, 0.02857142857142857)
>>> designs.count("ATD", n_time=12, max_run=2)
208
"""
from __future__ import annotations

import functools
import itertools
import json
import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .inference._result import ALTERNATIVES, TestResult, count_extreme, pvalue_from_counts
from .inference._stats import statistic_function

__all__ = ["RandomizedDesign", "PhaseDesign", "AB", "ABA", "ABAB", "AlternatingTreatments",
           "CompletelyRandomized", "RandomizedBlock", "MultipleBaseline", "Custom", "Schedule",
           "count", "make", "from_spec", "parse", "randomization_test", "FAMILIES"]

#: Largest set :meth:`RandomizedDesign.assignments` builds without being asked for more.
MAX_ENUMERATE = 200_000


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _pos_int(x, name: str, least: int = 1) -> int:
    try:
        v = int(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer, got {x!r}") from None
    if v != x or v < least:
        raise ValueError(f"{name} must be an integer of at least {least}, got {x!r}")
    return v


def _labels(conditions) -> tuple[str, ...]:
    labels = tuple(str(c) for c in conditions)
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ValueError(f"a design needs at least two different condition labels, got {conditions!r}")
    return labels


class RandomizedDesign:
    """Base class: a finite set of admissible assignments, each equally likely.

    Subclasses set ``labels``, ``n_cases`` and ``n_time`` and implement
    :meth:`n_assignments`, :meth:`_enumerate`, :meth:`sample` and :meth:`spec`.
    """

    labels: tuple = ("A", "B")
    n_cases: int = 1
    n_time: int = 0
    family: str = ""

    # ------------------------------------------------------------------ the set
    def n_assignments(self) -> int:
        """Exact number of admissible assignments (a Python int, never rounded)."""
        raise NotImplementedError

    def _enumerate(self):
        """Yield every admissible assignment as an ``(n_cases, n_time)`` array."""
        raise NotImplementedError

    def sample(self, rng, size: int) -> np.ndarray:
        """``size`` assignments drawn uniformly (with replacement): ``(size, n_cases, n_time)``."""
        raise NotImplementedError

    def spec(self) -> dict:
        """A JSON-able description from which :func:`from_spec` rebuilds the design."""
        raise NotImplementedError

    def assignments(self, max_count: int = MAX_ENUMERATE) -> np.ndarray:
        """Every admissible assignment: ``(n_assignments, n_cases, n_time)`` condition indices.

        Raises ``ValueError`` when the set holds more than ``max_count``
        assignments; use :meth:`sample` then.
        """
        total = self.n_assignments()
        if total > max_count:
            raise ValueError(f"{self.describe()} has {total} admissible assignments, more than "
                             f"max_count={max_count}; use sample() for a random subset")
        out = np.empty((total, self.n_cases, self.n_time), dtype=np.int8)
        k = -1
        for k, a in enumerate(self._enumerate()):
            out[k] = a
        assert k + 1 == total, (k + 1, total)
        return out

    def draw(self, rng=None) -> np.ndarray:
        """One assignment drawn at random: ``(n_cases, n_time)`` condition indices."""
        return self.sample(_rng(rng), 1)[0]

    def min_p(self, alternative: str = "greater") -> float:
        """Smallest p-value a randomization test on this design can give.

        1 / :meth:`n_assignments` for a one-sided test (the observed assignment
        is the only one as extreme), 2 / count two-sided (capped at 1).
        """
        if alternative not in ALTERNATIVES:
            raise ValueError(f"alternative must be one of {', '.join(ALTERNATIVES)}, got {alternative!r}")
        p = self._min_multiplicity() / self.n_assignments()
        return min(1.0, 2.0 * p) if alternative == "two-sided" else p

    def _min_multiplicity(self) -> int:
        return 1

    def contains(self, assignment) -> bool:
        """Whether ``assignment`` (indices or labels) is admissible under this design."""
        try:
            a = self.codes(assignment)
        except ValueError:
            return False
        return self._contains(a)

    def _contains(self, a: np.ndarray) -> bool:
        return bool((self.assignments() == a[None]).all(axis=(1, 2)).any())

    # ------------------------------------------------------------------ conversions
    def codes(self, assignment) -> np.ndarray:
        """``(n_cases, n_time)`` condition indices from indices or labels (a string
        such as ``"AABB"`` per case, or lists of labels)."""
        a = assignment
        if isinstance(a, str):
            rows = [a]
        elif isinstance(a, np.ndarray):
            rows = [a] if a.ndim == 1 else list(a)
        else:
            rows = list(a)
            # A flat list of labels or indices is one case's sequence.
            if self.n_cases == 1 and len(rows) == self.n_time and all(np.ndim(v) == 0 for v in rows) \
                    and not all(isinstance(v, str) and len(v) == self.n_time > 1 for v in rows):
                rows = [rows]
        if len(rows) != self.n_cases:
            raise ValueError(f"an assignment of {self.describe()} has {self.n_cases} case(s), got {len(rows)}")
        out = np.empty((self.n_cases, self.n_time), dtype=np.int8)
        for k, row in enumerate(rows):
            row = list(row)
            if len(row) != self.n_time:
                raise ValueError(f"case {k + 1}: an assignment of {self.describe()} has {self.n_time} "
                                 f"occasions, got {len(row)}")
            for t, v in enumerate(row):
                if isinstance(v, str):
                    if v not in self.labels:
                        raise ValueError(f"case {k + 1}, occasion {t + 1}: unknown condition {v!r}; "
                                         f"the design has {', '.join(self.labels)}")
                    out[k, t] = self.labels.index(v)
                else:
                    iv = int(v)
                    if iv != v or not 0 <= iv < len(self.labels):
                        raise ValueError(f"case {k + 1}, occasion {t + 1}: condition index {v!r} is not "
                                         f"in 0..{len(self.labels) - 1}")
                    out[k, t] = iv
        return out

    def as_labels(self, assignment) -> list[str]:
        """The assignment as one string of labels per case (``["AAABBBB"]``); labels
        longer than one character are joined by spaces."""
        a = self.codes(assignment)
        sep = "" if all(len(lab) == 1 for lab in self.labels) else " "
        return [sep.join(self.labels[int(c)] for c in row) for row in a]

    def describe(self) -> str:
        """The compact form :func:`parse` reads back."""
        parts = [self.family]
        for k, v in self.spec().items():
            if k == "family":
                continue
            if k == "n_per_condition":
                v = "/".join(map(str, v))
            parts.append(f"{k}={_spec_text(v)}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}: {self.n_assignments()} assignments>"

    # ------------------------------------------------------------------ use
    def test(self, y, observed, **kwargs) -> TestResult:
        """Randomization test of the drawn ``observed`` assignment; see :func:`randomization_test`."""
        return randomization_test(self, y, observed, **kwargs)

    def simulation_design(self, n_cases: int | None = None, contrasts=None):
        """The simulator's :class:`~scedsim.simulate.Design` that draws this design's
        assignment anew in every replication (AB and multiple-baseline designs)."""
        raise ValueError(f"the simulator draws random assignments only for AB and multiple-baseline designs, "
                         f"not {self.describe()!r}; simulate a fixed phase structure instead")

    def schedule(self, seed, case_names=None) -> "Schedule":
        """Draw the study's schedule from ``seed`` (see :class:`Schedule`)."""
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        a = self.draw(np.random.default_rng(ss))
        names = [f"case{k + 1}" for k in range(self.n_cases)] if case_names is None else [str(c) for c in case_names]
        if len(names) != self.n_cases or len(set(names)) != len(names):
            raise ValueError(f"give {self.n_cases} different case names, got {case_names!r}")
        return Schedule(self, a, tuple(names), ss.entropy if not isinstance(seed, np.random.SeedSequence) else None)


def _spec_text(v) -> str:
    if isinstance(v, (list, tuple)):
        if v and isinstance(v[0], (list, tuple)):
            return ",".join(_set_text(s) for s in v)
        if v and isinstance(v[0], str):
            return "".join(v) if all(len(x) == 1 for x in v) else "/".join(v)
        return _set_text(v)
    return str(v)


def _set_text(s) -> str:
    s = list(s)
    if len(s) > 1 and s == list(range(s[0], s[-1] + 1)):
        return f"{s[0]}-{s[-1]}"
    return "/".join(map(str, s))


# =========================================================================== phase designs

class PhaseDesign(RandomizedDesign):
    """A phase design (AB, ABA, ABAB, ...) with randomly chosen phase-change points.

    The series of ``n_time`` occasions is cut into the phases of ``phases`` in
    order, every phase at least ``min_phase`` occasions long; every such cut is
    admissible.  With p phases there are

        C(n_time - p * min_phase + p - 1, p - 1)

    admissible cuts (Onghena 1992): ``n_time - 2 min_phase + 1`` for AB.

    Parameters
    ----------
    n_time : int
    phases : str
        One label per phase, e.g. ``"ABAB"``; at least two different labels.
    min_phase : int

    References
    ----------
    Edgington, E. S. (1975). Randomization tests for one-subject operant
    experiments. *The Journal of Psychology*, 90(1), 57-68.

    Onghena, P. (1992). Randomization tests for extensions and variations of
    ABAB single-case experimental designs: A rejoinder. *Behavioral
    Assessment*, 14(2), 153-171.

    Examples
    --------
    >>> d = PhaseDesign(7, "AB", min_phase=3)
    >>> d.as_labels(d.assignments()[0]), d.as_labels(d.assignments()[1])
    (['AAABBBB'], ['AAAABBB'])
    >>> PhaseDesign(24, "ABAB", min_phase=4).n_assignments()
    165
    """

    def __init__(self, n_time: int, phases: str = "AB", min_phase: int = 3):
        self.n_time = _pos_int(n_time, "n_time")
        self.min_phase = _pos_int(min_phase, "min_phase")
        self.phases = str(phases)
        if len(self.phases) < 2 or any(x == y for x, y in zip(self.phases, self.phases[1:])):
            raise ValueError(f"phases must be at least two labels, no label twice in a row, e.g. 'ABAB'; "
                             f"got {phases!r}")
        self.labels = tuple(dict.fromkeys(self.phases))
        self.family = self.phases
        self._phase_codes = np.array([self.labels.index(c) for c in self.phases], dtype=np.int8)
        if len(self.phases) * self.min_phase > self.n_time:
            raise ValueError(f"{self.n_time} occasions cannot hold {len(self.phases)} phases of at least "
                             f"{self.min_phase} each (needs {len(self.phases) * self.min_phase})")

    def n_assignments(self) -> int:
        p = len(self.phases)
        return math.comb(self.n_time - p * self.min_phase + p - 1, p - 1)

    def lengths(self):
        """Yield every admissible tuple of phase lengths, in lexicographic order."""
        p, k = len(self.phases), self.min_phase
        free = self.n_time - p * k
        # Stars and bars: p - 1 bars among free + p - 1 slots.
        for bars in itertools.combinations(range(free + p - 1), p - 1):
            prev, out = -1, []
            for b in bars:
                out.append(b - prev - 1 + k)
                prev = b
            out.append(free + p - 2 - prev + k)
            yield tuple(out)

    def _of_lengths(self, lengths) -> np.ndarray:
        return np.repeat(self._phase_codes, lengths)[None, :]

    def _enumerate(self):
        for L in self.lengths():
            yield self._of_lengths(L)

    def sample(self, rng, size: int) -> np.ndarray:
        g = _rng(rng)
        p, k = len(self.phases), self.min_phase
        free = self.n_time - p * k
        out = np.empty((int(size), 1, self.n_time), dtype=np.int8)
        for r in range(int(size)):
            # A uniform (p-1)-subset of the slots is a uniform composition.
            bars = np.sort(g.choice(free + p - 1, p - 1, replace=False))
            edges = np.concatenate([[-1], bars, [free + p - 1]])
            out[r] = self._of_lengths(np.diff(edges) - 1 + k)
        return out

    def phase_lengths(self, assignment) -> tuple[int, ...]:
        """The phase lengths of an assignment (raises if it is not a cut of ``phases``)."""
        row = self.codes(assignment)[0]
        runs = [(int(c), len(list(g))) for c, g in itertools.groupby(row)]
        if [c for c, _ in runs] != self._phase_codes.tolist():
            raise ValueError(f"assignment {self.as_labels(row[None])[0]!r} does not follow the phases "
                             f"{self.phases!r}")
        return tuple(n for _, n in runs)

    def _contains(self, a) -> bool:
        try:
            return min(self.phase_lengths(a)) >= self.min_phase
        except ValueError:
            return False

    def simulation_design(self, n_cases: int | None = None, contrasts=None):
        """For AB: the simulator's design in which each of ``n_cases`` (default 1)
        cases draws its own start point, independently (replicated AB designs)."""
        if len(self.phases) != 2:
            return super().simulation_design(n_cases, contrasts)
        from .simulate.design import Design

        starts = list(range(self.min_phase, self.n_time - self.min_phase + 1))
        return Design.multiple_baseline_random(self.n_time, starts, n_cases=n_cases or 1, labels=self.labels,
                                               contrasts=contrasts)

    def spec(self) -> dict:
        return {"family": self.phases, "n_time": self.n_time, "min_phase": self.min_phase}


def AB(n_time: int, min_phase: int = 3) -> PhaseDesign:
    """AB design with a random start point (Edgington 1975): ``n_time - 2 min_phase + 1`` assignments.

    >>> AB(7, min_phase=3).n_assignments(), AB(20, min_phase=5).min_p()
    (2, 0.09090909090909091)
    """
    return PhaseDesign(n_time, "AB", min_phase)


def ABA(n_time: int, min_phase: int = 3) -> PhaseDesign:
    """ABA design with two random phase changes: C(n_time - 3 min_phase + 2, 2) assignments (Onghena 1992).

    >>> ABA(12, min_phase=3).n_assignments()
    10
    """
    return PhaseDesign(n_time, "ABA", min_phase)


def ABAB(n_time: int, min_phase: int = 3) -> PhaseDesign:
    """ABAB design with three random phase changes: C(n_time - 4 min_phase + 3, 3) assignments (Onghena 1992).

    >>> ABAB(20, min_phase=3).n_assignments()
    165
    """
    return PhaseDesign(n_time, "ABAB", min_phase)


# =========================================================================== occasion designs

class AlternatingTreatments(RandomizedDesign):
    """Alternating treatments design: conditions assigned to occasions at random.

    Each condition gets ``n_per_condition`` occasions (default: an equal share
    of ``n_time``) and no condition is given more than ``max_run`` times in a
    row (Onghena & Edgington 1994's restricted ATD; ``max_run=None`` is the
    completely randomized design).  The count is the number of label sequences
    with those frequencies and no longer run, computed exactly by dynamic
    programming over (occasions left per condition, last condition, its run).

    Parameters
    ----------
    n_time : int
    conditions : str or sequence of str
        Condition labels, default ``"AB"``.
    max_run : int or None
    n_per_condition : int or sequence of int, optional

    References
    ----------
    Onghena, P., & Edgington, E. S. (1994). Randomization tests for restricted
    alternating treatments designs. *Behaviour Research and Therapy*, 32(7),
    783-786.

    Examples
    --------
    Twelve occasions, six per condition, at most two in a row: 208 of the
    C(12, 6) = 924 sequences remain.

    >>> d = AlternatingTreatments(12, max_run=2)
    >>> d.n_assignments(), round(d.min_p(), 5)
    (208, 0.00481)
    >>> d.as_labels(d.draw(1))
    ['ABBAABBAABBA']
    """

    family = "ATD"

    def __init__(self, n_time: int, conditions="AB", max_run: int | None = 2, n_per_condition=None):
        self.n_time = _pos_int(n_time, "n_time")
        self.labels = _labels(conditions)
        k = len(self.labels)
        if n_per_condition is None:
            if self.n_time % k:
                raise ValueError(f"{self.n_time} occasions do not split equally over {k} conditions; "
                                 "give n_per_condition")
            counts = (self.n_time // k,) * k
        elif np.ndim(n_per_condition) == 0:
            counts = (_pos_int(n_per_condition, "n_per_condition"),) * k
        else:
            counts = tuple(_pos_int(c, "n_per_condition") for c in n_per_condition)
            if len(counts) != k:
                raise ValueError(f"n_per_condition needs one count per condition ({k}), got {n_per_condition!r}")
        if sum(counts) != self.n_time:
            raise ValueError(f"n_per_condition {list(counts)} adds up to {sum(counts)}, not n_time={self.n_time}")
        self.counts = counts
        self.max_run = None if max_run is None else _pos_int(max_run, "max_run")
        if self.n_assignments() == 0:
            raise ValueError(f"no sequence of {self.n_time} occasions with counts {list(counts)} keeps every "
                             f"run at most {self.max_run} long")

    def _limit(self) -> int:
        return self.n_time if self.max_run is None else self.max_run

    @functools.lru_cache(maxsize=None)  # noqa: B019 - the design is immutable and small
    def _ways(self, left: tuple, last: int, run: int) -> int:
        """Completions of a sequence with ``left`` occasions per condition to place."""
        if not any(left):
            return 1
        total = 0
        for c, n in enumerate(left):
            if n == 0 or (c == last and run >= self._limit()):
                continue
            nxt = left[:c] + (n - 1,) + left[c + 1:]
            total += self._ways(nxt, c, run + 1 if c == last else 1)
        return total

    def n_assignments(self) -> int:
        if self.max_run is None:
            return math.factorial(self.n_time) // math.prod(math.factorial(c) for c in self.counts)
        return self._ways(self.counts, -1, 0)

    def _enumerate(self):
        seq = []

        def rec(left, last, run):
            if not any(left):
                yield np.array(seq, dtype=np.int8)[None, :]
                return
            for c, n in enumerate(left):
                if n == 0 or (c == last and run >= self._limit()):
                    continue
                nxt = left[:c] + (n - 1,) + left[c + 1:]
                if self._ways(nxt, c, run + 1 if c == last else 1) == 0:
                    continue
                seq.append(c)
                yield from rec(nxt, c, run + 1 if c == last else 1)
                seq.pop()

        yield from rec(self.counts, -1, 0)

    def sample(self, rng, size: int) -> np.ndarray:
        g = _rng(rng)
        out = np.empty((int(size), 1, self.n_time), dtype=np.int8)
        if self.max_run is None:
            base = np.repeat(np.arange(len(self.labels), dtype=np.int8), self.counts)
            for r in range(int(size)):
                out[r, 0] = g.permutation(base)
            return out
        for r in range(int(size)):
            left, last, run = self.counts, -1, 0
            for t in range(self.n_time):
                # Each next condition with probability (its completions) / (all completions):
                # a uniform draw from the admissible set.
                w = []
                for c, n in enumerate(left):
                    ok = n > 0 and not (c == last and run >= self._limit())
                    w.append(self._ways(left[:c] + (n - 1,) + left[c + 1:], c, run + 1 if c == last else 1)
                             if ok else 0)
                u = int(g.integers(0, sum(w)))
                c = 0
                while u >= w[c]:
                    u -= w[c]
                    c += 1
                out[r, 0, t] = c
                run = run + 1 if c == last else 1
                last = c
                left = left[:c] + (left[c] - 1,) + left[c + 1:]
        return out

    def _contains(self, a) -> bool:
        row = a[0]
        if tuple(int((row == c).sum()) for c in range(len(self.labels))) != self.counts:
            return False
        return max(len(list(g)) for _, g in itertools.groupby(row.tolist())) <= self._limit()

    def spec(self) -> dict:
        d = {"family": self.family, "n_time": self.n_time, "conditions": list(self.labels)}
        if self.family == "ATD":
            d["max_run"] = self.max_run
        if len(set(self.counts)) > 1:
            d["n_per_condition"] = list(self.counts)
        return d


class CompletelyRandomized(AlternatingTreatments):
    """Completely randomized design: ``n_per_condition`` occasions per condition in any order.

    n_time! / prod(n_c!) assignments: C(7, 3) = 35 for 3 + 4 occasions, so the
    exact test cannot go below p = 1/35 (Edgington & Onghena 2007, ch. 11).

    >>> d = CompletelyRandomized(7, n_per_condition=[3, 4])
    >>> d.n_assignments(), round(d.min_p(), 5)
    (35, 0.02857)
    """

    family = "CRD"

    def __init__(self, n_time: int, conditions="AB", n_per_condition=None):
        super().__init__(n_time, conditions, None, n_per_condition)


class RandomizedBlock(RandomizedDesign):
    """Randomized block design: each block of ``len(conditions)`` consecutive
    occasions gives every condition once, in an order drawn per block.

    (k!)^n_blocks assignments for k conditions (Edgington & Onghena 2007;
    Onghena & Edgington 2005).

    >>> d = RandomizedBlock(5)
    >>> d.n_assignments(), d.n_time, d.min_p()
    (32, 10, 0.03125)
    """

    family = "RBD"

    def __init__(self, n_blocks: int, conditions="AB"):
        self.n_blocks = _pos_int(n_blocks, "n_blocks")
        self.labels = _labels(conditions)
        self.n_time = self.n_blocks * len(self.labels)
        self._perms = np.array(list(itertools.permutations(range(len(self.labels)))), dtype=np.int8)

    def n_assignments(self) -> int:
        return math.factorial(len(self.labels)) ** self.n_blocks

    def _enumerate(self):
        for choice in itertools.product(range(len(self._perms)), repeat=self.n_blocks):
            yield self._perms[list(choice)].reshape(1, -1)

    def sample(self, rng, size: int) -> np.ndarray:
        g = _rng(rng)
        idx = g.integers(0, len(self._perms), (int(size), self.n_blocks))
        return self._perms[idx].reshape(int(size), 1, self.n_time)

    def _contains(self, a) -> bool:
        blocks = a[0].reshape(self.n_blocks, -1)
        return bool((np.sort(blocks, axis=1) == np.arange(len(self.labels))).all())

    def spec(self) -> dict:
        return {"family": self.family, "n_blocks": self.n_blocks, "conditions": list(self.labels)}


# =========================================================================== multiple baseline

MB_SCHEMES = ("marascuilo_busk", "koehler_levin", "wampold_worsham")


class MultipleBaseline(RandomizedDesign):
    """Multiple-baseline AB design across cases with staggered random start points.

    Parameters
    ----------
    n_time : int
        Occasions per case.
    starts : sequence of int, or one sequence per case (tier), optional
        Admissible baseline lengths (the intervention starts at occasion m + 1).
        Default: every length leaving ``min_phase`` points in each phase.
    n_cases : int, optional
        Needed with one shared set of starts.
    scheme : {"marascuilo_busk", "koehler_levin", "wampold_worsham"}
        ``"marascuilo_busk"`` (Marascuilo & Busk 1988): each case draws its start
        independently from its own set, prod |S_k| assignments.
        ``"koehler_levin"`` (Koehler & Levin 1998): the cases are randomly
        ordered over the tiers and tier k draws its start from set k,
        n! prod |S_k| assignments.
        ``"wampold_worsham"`` (Wampold & Worsham 1986): fixed staggered starts
        (one per tier), only the order of the cases is random, n! assignments.
    min_phase : int
        Only for the default ``starts``.
    labels : pair of str

    Notes
    -----
    The counts are those of the reference sets of
    :func:`scedsim.inference.multiple_baseline_test`.  With Koehler-Levin tier
    sets that overlap, two (order, start) draws can give the same schedule;
    the count is then of the equally likely draws, and :meth:`min_p` is the
    smallest schedule's share of them.

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

    Levin, J. R., Ferron, J. M., & Gafurov, B. S. (2017). Additional
    comparisons of randomization-test procedures for single-case
    multiple-baseline designs: Alternative effect types. *Journal of School
    Psychology*, 63, 13-34.

    Examples
    --------
    >>> MultipleBaseline(9, n_cases=3, min_phase=2).n_assignments()       # 6 starts each
    216
    >>> MultipleBaseline(9, [[3, 4], [4, 5], [5, 6]], scheme="koehler_levin").n_assignments()
    48
    >>> MultipleBaseline(9, [[3], [4], [5]], scheme="wampold_worsham").n_assignments()
    6
    """

    family = "MB"

    def __init__(self, n_time: int, starts=None, n_cases: int | None = None, scheme: str = "marascuilo_busk",
                 min_phase: int = 3, labels=("A", "B")):
        self.n_time = _pos_int(n_time, "n_time")
        if scheme not in MB_SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r}; expected one of {', '.join(MB_SCHEMES)}")
        self.scheme = scheme
        self.labels = _labels(labels)
        if len(self.labels) != 2:
            raise ValueError(f"a multiple-baseline design has two conditions, got {labels!r}")
        if starts is None:
            lo, hi = _pos_int(min_phase, "min_phase"), self.n_time - int(min_phase)
            if hi < lo:
                raise ValueError(f"{self.n_time} occasions cannot keep {min_phase} points in each phase")
            starts = list(range(lo, hi + 1))
        starts = list(starts)
        if not starts:
            raise ValueError("starts is empty")
        sets = [starts] if all(np.ndim(v) == 0 for v in starts) else starts
        if len(sets) == 1:
            if n_cases is None:
                raise ValueError("one set of starts shared by every case needs n_cases")
            sets = sets * _pos_int(n_cases, "n_cases", 2)
        elif n_cases not in (None, len(sets)):
            raise ValueError(f"{len(sets)} sets of starts (one per case) but n_cases={n_cases}")
        self.starts = tuple(tuple(sorted({_pos_int(v, "a start") for v in s})) for s in sets)
        self.n_cases = len(self.starts)
        if self.n_cases < 2:
            raise ValueError("a multiple-baseline design needs at least two cases")
        for k, s in enumerate(self.starts):
            if not s:
                raise ValueError(f"tier {k + 1}: the set of starts is empty")
            if s[-1] >= self.n_time:
                raise ValueError(f"tier {k + 1}: a baseline of {s[-1]} points leaves no treatment occasion "
                                 f"in {self.n_time}")
        if scheme == "wampold_worsham" and any(len(s) != 1 for s in self.starts):
            raise ValueError("scheme 'wampold_worsham' fixes one start per tier; give one number per tier")

    def _permutes(self) -> bool:
        return self.scheme != "marascuilo_busk"

    def n_assignments(self) -> int:
        k = math.prod(len(s) for s in self.starts)
        return k * math.factorial(self.n_cases) if self._permutes() else k

    def _of_starts(self, m) -> np.ndarray:
        return (np.arange(self.n_time)[None, :] >= np.asarray(m)[:, None]).astype(np.int8)

    def start_vectors(self):
        """Yield the baseline length of every case for every (order, start) draw."""
        for combo in itertools.product(*self.starts):
            if not self._permutes():
                yield combo
                continue
            for perm in itertools.permutations(range(self.n_cases)):
                # perm[tier] = the case placed in that tier.
                m = [0] * self.n_cases
                for tier, case in enumerate(perm):
                    m[case] = combo[tier]
                yield tuple(m)

    def _enumerate(self):
        for m in self.start_vectors():
            yield self._of_starts(m)

    def sample(self, rng, size: int) -> np.ndarray:
        g = _rng(rng)
        size = int(size)
        m = np.stack([np.asarray(s)[g.integers(0, len(s), size)] for s in self.starts], axis=1)
        if self._permutes():
            perm = np.argsort(g.random((size, self.n_cases)), axis=1)
            # Case perm[r, tier] gets the start of that tier.
            out = np.empty_like(m)
            np.put_along_axis(out, perm, m, axis=1)
            m = out
        return (np.arange(self.n_time)[None, None, :] >= m[:, :, None]).astype(np.int8)

    def baseline_lengths(self, assignment) -> tuple[int, ...]:
        """Per case, the baseline length of an AB assignment (raises if a case is not AB)."""
        a = self.codes(assignment)
        out = []
        for k, row in enumerate(a):
            m = int((row == 0).sum())
            if not (row[:m] == 0).all() or not (row[m:] == 1).all() or m in (0, self.n_time):
                raise ValueError(f"case {k + 1}: the assignment is not a baseline followed by treatment")
            out.append(m)
        return tuple(out)

    def _contains(self, a) -> bool:
        try:
            m = self.baseline_lengths(a)
        except ValueError:
            return False
        if not self._permutes():
            return all(v in s for v, s in zip(m, self.starts))
        return any(all(m[case] in self.starts[tier] for tier, case in enumerate(p))
                   for p in itertools.permutations(range(self.n_cases)))

    def _min_multiplicity(self) -> int:
        sets = [set(s) for s in self.starts]
        if not self._permutes() or all(not (a & b) for a, b in itertools.combinations(sets, 2)):
            return 1
        return min(Counter(self.start_vectors()).values())

    def simulation_design(self, n_cases: int | None = None, contrasts=None):
        """The simulator's multiple-baseline design with these start sets and scheme
        (Wampold-Worsham as Koehler-Levin with one start per tier)."""
        from .simulate.design import Design

        if n_cases not in (None, self.n_cases):
            raise ValueError(f"the design has {self.n_cases} cases, not {n_cases}")
        scheme = "marascuilo_busk" if self.scheme == "marascuilo_busk" else "koehler_levin"
        return Design.multiple_baseline_random(self.n_time, [list(s) for s in self.starts], scheme=scheme,
                                               labels=self.labels, contrasts=contrasts)

    def spec(self) -> dict:
        same = len(set(self.starts)) == 1
        d = {"family": self.family, "n_time": self.n_time,
             "starts": [list(self.starts[0])] if same else [list(s) for s in self.starts],
             "n_cases": self.n_cases, "scheme": self.scheme}
        if self.labels != ("A", "B"):
            d["labels"] = list(self.labels)
        return d


# =========================================================================== custom

class Custom(RandomizedDesign):
    """Any finite list of admissible assignments, each equally likely.

    Parameters
    ----------
    assignments : sequence
        Each a string of one-letter labels (``"AABB"``), a list of labels, or,
        for several cases, one such sequence per case.
    labels : sequence of str, optional
        The conditions, in the order their indices take (default: in order of
        first appearance).

    Examples
    --------
    >>> d = Custom(["AABBAB", "ABABAB", "ABBAAB"])
    >>> d.n_assignments(), d.contains("ABABAB"), d.contains("BBBAAA")
    (3, True, False)
    """

    family = "custom"

    def __init__(self, assignments, labels=None, n_cases: int = 1):
        items = list(assignments)
        if not items:
            raise ValueError("a custom design needs at least one assignment")
        self.n_cases = _pos_int(n_cases, "n_cases")
        # One case: each item is that case's sequence; several: each item holds one per case.
        rows = [[list(a)] for a in items] if self.n_cases == 1 else [[list(r) for r in a] for a in items]
        seen = labels or list(dict.fromkeys(v for a in rows for r in a for v in r))
        self.labels = _labels(seen)
        self.n_time = len(rows[0][0])
        arr = np.stack([self.codes(a) for a in rows])
        if len({a.tobytes() for a in arr}) != len(arr):
            raise ValueError("a custom design lists an assignment twice; list each admissible assignment once")
        self._set = arr

    def n_assignments(self) -> int:
        return len(self._set)

    def _enumerate(self):
        yield from self._set

    def sample(self, rng, size: int) -> np.ndarray:
        return self._set[_rng(rng).integers(0, len(self._set), int(size))]

    def spec(self) -> dict:
        return {"family": self.family, "labels": list(self.labels),
                "assignments": [self.as_labels(a) for a in self._set]}

    def describe(self) -> str:
        return f"custom ({len(self._set)} assignments of {self.n_time} occasions)"


# =========================================================================== construction

FAMILIES = ("AB", "ABA", "ABAB", "ATD", "CRD", "RBD", "MB", "custom")


def make(family: str, **kw) -> RandomizedDesign:
    """A design from its family name and keywords.

    ``family`` is a phase string (``"AB"``, ``"ABA"``, ``"ABAB"``, ...: keywords
    ``n_time``, ``min_phase``), ``"ATD"`` (``n_time``, ``conditions``,
    ``max_run``, ``n_per_condition``), ``"CRD"`` (``n_time``, ``conditions``,
    ``n_per_condition``), ``"RBD"`` (``n_blocks``, ``conditions``), ``"MB"``
    (``n_time``, ``starts``, ``n_cases``, ``scheme``, ``min_phase``,
    ``labels``) or ``"custom"`` (``assignments``, ``labels``).
    """
    fam = str(family)
    try:
        if fam == "ATD":
            return AlternatingTreatments(**kw)
        if fam == "CRD":
            return CompletelyRandomized(**kw)
        if fam == "RBD":
            return RandomizedBlock(**kw)
        if fam == "MB":
            return MultipleBaseline(**kw)
        if fam == "custom":
            return Custom(**kw)
        if fam.isalpha() and fam.isupper():
            return PhaseDesign(phases=fam, **kw)
    except TypeError as exc:
        raise ValueError(f"design {fam}: {exc}") from None
    raise ValueError(f"unknown design family {family!r}; expected a phase string such as AB or ABAB, "
                     f"or one of ATD, CRD, RBD, MB, custom")


def count(family: str, **kw) -> int:
    """Exact number of admissible assignments of a design (see :func:`make`).

    >>> count("AB", n_time=7, min_phase=3), count("CRD", n_time=12), count("RBD", n_blocks=4, conditions="ABC")
    (2, 924, 1296)
    """
    return make(family, **kw).n_assignments()


def from_spec(spec: dict) -> RandomizedDesign:
    """Rebuild a design from :meth:`RandomizedDesign.spec`."""
    spec = dict(spec)
    try:
        family = spec.pop("family")
    except KeyError:
        raise ValueError("a design spec needs a 'family'") from None
    return make(family, **spec)


_INT_KEYS = ("n_time", "min_phase", "max_run", "n_blocks", "n_cases")


def parse(text: str) -> RandomizedDesign:
    """A design from its compact form: the family, then ``key=value`` words.

    ``"AB n_time=20 min_phase=5"``, ``"ABAB n_time=24 min_phase=4"``,
    ``"ATD n_time=12 max_run=2 conditions=AB"``, ``"CRD n_time=7 n_per_condition=3/4"``,
    ``"RBD n_blocks=5 conditions=ABC"``, ``"MB n_time=15 n_cases=3 starts=4-11"``,
    ``"MB n_time=15 starts=4-5,7-8,10-11 scheme=koehler_levin"``.  A set of
    starts is ``lo-hi`` or numbers joined by ``/``; sets (one per tier) are
    separated by commas.  ``max_run=none`` lifts the run limit.

    >>> parse("MB n_time=15 starts=4-5,7-8,10-11 scheme=koehler_levin").n_assignments()
    48
    >>> parse("ABAB n_time=24 min_phase=4").describe()
    'ABAB n_time=24 min_phase=4'
    """
    words = str(text).split()
    if not words:
        raise ValueError("a design looks like 'AB n_time=20 min_phase=5'")
    kw: dict = {}
    for w in words[1:]:
        key, sep, val = w.partition("=")
        if not sep or not val or key in kw:
            raise ValueError(f"cannot read {w!r} in design {text!r}: write key=value once each, "
                             "e.g. 'AB n_time=20 min_phase=5'")
        try:
            if key in _INT_KEYS:
                kw[key] = None if (key == "max_run" and val.lower() == "none") else int(val)
            elif key == "starts":
                kw[key] = [_parse_set(p) for p in val.split(",")]
                if len(kw[key]) == 1:
                    kw[key] = kw[key][0]
            elif key == "n_per_condition":
                kw[key] = [int(v) for v in val.split("/")]
            elif key in ("conditions", "labels"):
                kw[key] = val.split("/") if "/" in val else list(val)
            elif key == "scheme":
                kw[key] = val
            else:
                raise ValueError(f"design {text!r}: unknown key {key!r}")
        except ValueError as exc:
            if "unknown key" in str(exc):
                raise
            raise ValueError(f"design {text!r}: cannot read {w!r}") from None
    return make(words[0], **kw)


def _parse_set(part: str) -> list[int]:
    if "-" in part:
        lo, hi = (int(x) for x in part.split("-"))
        if hi < lo:
            raise ValueError(part)
        return list(range(lo, hi + 1))
    return [int(x) for x in part.split("/")]


# =========================================================================== the test

def _case_stats(y, masks_a, masks_b, f, name):
    """(K, n_cases) statistic per assignment and case."""
    K, C, T = masks_a.shape
    if name == "mean_diff":
        masks_a, masks_b = masks_a.astype(np.float64), masks_b.astype(np.float64)
        na, nb = masks_a.sum(axis=2), masks_b.sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (np.einsum("kct,ct->kc", masks_b, y) / nb) - (np.einsum("kct,ct->kc", masks_a, y) / na)
    out = np.empty((K, C))
    for k in range(K):
        for c in range(C):
            a, b = y[c][masks_a[k, c]], y[c][masks_b[k, c]]
            out[k, c] = f(a[None, :], b[None, :])[0] if a.size and b.size else np.nan
    return out


def randomization_test(design: RandomizedDesign, y, observed, *, statistic="mean_diff", contrast=None,
                       improvement: str = "increase", alternative: str = "greater", combine: str | None = None,
                       max_arrangements: int = MAX_ENUMERATE, n_resamples: int = 9999, rng=None,
                       return_distribution: bool = False, options: dict | None = None) -> TestResult:
    """Exact randomization test of the assignment actually drawn, over a design's admissible set.

    The statistic compares the occasions given condition ``contrast[1]`` with
    those given ``contrast[0]`` within each case (pooling every phase of a
    condition, in time order), and the case statistics are combined by their
    mean (their median for ``"median_diff"``).  The p-value is the share of
    the admissible assignments whose statistic is at least the observed one,
    the observed one included (Edgington & Onghena 2007).  When the set holds
    more than ``max_arrangements`` assignments, ``n_resamples`` assignments
    drawn from the design give the Monte Carlo p-value (1 + count) / (1 + R).

    For AB, ABAB and multiple-baseline designs this is the test of
    :func:`scedsim.inference.randomization_test`,
    :func:`~scedsim.inference.abab_test` and
    :func:`~scedsim.inference.multiple_baseline_test` (the tests check that
    they agree); it extends them to ABA, alternating treatments, completely
    randomized, randomized block and custom designs.

    Parameters
    ----------
    design : RandomizedDesign
    y : array_like
        ``(n_time,)`` for one case or ``(n_cases, n_time)``; no NaN.
    observed : array_like or Schedule
        The drawn assignment (condition indices or labels), or a :class:`Schedule`.
    statistic : str or callable
        ``"mean_diff"``, ``"median_diff"``, a metric name (``"nap"``, ...) or
        ``f(a, b) -> float`` on the two conditions' values of one case.
    contrast : pair of labels, optional
        (baseline, treatment); default the design's first two labels.
    improvement : {"increase", "decrease"}
    alternative : {"greater", "less", "two-sided"}
    combine : {"mean", "median"}, optional
    max_arrangements, n_resamples, rng
        Monte Carlo fallback; ``rng`` is a seed or Generator.
    return_distribution : bool
    options : dict, optional
        Options for a metric statistic.

    Returns
    -------
    TestResult

    References
    ----------
    Edgington, E. S., & Onghena, P. (2007). *Randomization tests* (4th ed.).
    Chapman & Hall/CRC.

    Onghena, P., & Edgington, E. S. (1994). Randomization tests for restricted
    alternating treatments designs. *Behaviour Research and Therapy*, 32(7),
    783-786.

    Examples
    --------
    Six A and six B occasions, at most two in a row; B clearly higher:

    >>> d = AlternatingTreatments(12, max_run=2)
    >>> obs = "ABBAABABBAAB"
    >>> y = [1, 5, 6, 2, 1, 6, 2, 5, 6, 2, 1, 5]
    >>> r = d.test(y, obs)
    >>> r.pvalue * 208, r.n_arrangements
    (1.0, 208)
    """
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(ALTERNATIVES)}, got {alternative!r}")
    if improvement not in ("increase", "decrease"):
        raise ValueError(f"improvement must be 'increase' or 'decrease', got {improvement!r}")
    if isinstance(observed, Schedule):
        observed = observed.assignment
    name, f = statistic_function(statistic, options, improvement)
    combine = combine or ("median" if name == "median_diff" else "mean")
    if combine not in ("mean", "median"):
        raise ValueError(f"combine must be 'mean' or 'median', got {combine!r}")
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[None, :]
    if y.shape != (design.n_cases, design.n_time):
        raise ValueError(f"y must hold {design.n_cases} case(s) x {design.n_time} occasions, got shape {y.shape}")
    if np.isnan(y).any():
        raise ValueError("y holds NaN; a randomization test needs every occasion's score")
    if improvement == "decrease":
        y = -y
    obs = design.codes(observed)
    if not design.contains(obs):
        raise ValueError(f"the observed assignment {design.as_labels(obs)} is not admissible under "
                         f"{design.describe()}")
    base, comp = contrast or design.labels[:2]
    if base not in design.labels or comp not in design.labels or base == comp:
        raise ValueError(f"contrast must name two different conditions of the design "
                         f"({', '.join(design.labels)}), got {contrast!r}")
    ia, ib = design.labels.index(base), design.labels.index(comp)
    total = design.n_assignments()
    monte_carlo = total > max_arrangements
    if monte_carlo:
        ref = design.sample(_rng(rng), int(n_resamples))
    else:
        ref = design.assignments(max_arrangements)
    agg = np.median if combine == "median" else np.mean

    def stats_of(a):
        # In chunks, so that the (assignments, cases, occasions) masks stay small.
        step = max(1, 2_000_000 // (design.n_cases * design.n_time))
        return np.concatenate([agg(_case_stats(y, a[i:i + step] == ia, a[i:i + step] == ib, f, name), axis=1)
                               for i in range(0, len(a), step)])

    observed_stat = stats_of(obs[None])
    null = stats_of(ref)
    ge, le, k_def = count_extreme(null[None, :], observed_stat, alternative,
                                  data_scale=[float(np.abs(y).max())])
    p = pvalue_from_counts(ge, le, k_def, alternative, plus_one=monte_carlo, observed=observed_stat)[0]
    n = int(n_resamples) + 1 if monte_carlo else int(total)
    min_p = 1.0 / n if monte_carlo else design.min_p("greater")
    return TestResult(float(observed_stat[0]), float(p), n, min_p, "monte_carlo" if monte_carlo else "exact",
                      alternative, null if return_distribution else None)


# =========================================================================== schedules

SCHEDULE_VERSION = 1


@dataclass(frozen=True)
class Schedule:
    """The assignment drawn for a study, with the design and seed it was drawn from.

    Written by :meth:`write` (and ``scedsim schedule --out``) as JSON::

        {"scedsim_schedule": 1,
         "design": {"family": "AB", "n_time": 10, "min_phase": 3},
         "seed": 2024,
         "labels": ["A", "B"],
         "cases": {"case1": "AAAABBBBBB"},
         "n_assignments": 5}

    ``cases`` gives each case's condition per occasion (occasion 1 first), as
    a string when every label is one character, else as a list of labels;
    :meth:`read` rebuilds the design and checks that the assignment is
    admissible under it.
    """

    design: RandomizedDesign
    assignment: np.ndarray
    case_names: tuple
    seed: int | None = None

    def as_dict(self) -> dict:
        labs = self.design.labels
        # One-letter labels: each case's schedule is one readable string ("AAABBBB").
        short = all(len(lab) == 1 for lab in labs)
        return {"scedsim_schedule": SCHEDULE_VERSION, "design": self.design.spec(), "seed": self.seed,
                "labels": list(labs),
                "cases": {n: ("".join if short else list)(labs[int(c)] for c in row)
                          for n, row in zip(self.case_names, self.assignment)},
                "n_assignments": self.design.n_assignments()}

    def write(self, path) -> None:
        """Write the schedule as JSON (see the class docstring), one key per line."""
        import pathlib

        d = self.as_dict()
        lines = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in d.items() if k != "cases"]
        cases = ",\n".join(f"  {json.dumps(n)}: {json.dumps(v)}" for n, v in d["cases"].items())
        lines.insert(4, f' "cases": {{\n{cases}\n }}')
        pathlib.Path(path).write_text("{\n" + ",\n".join(lines) + "\n}\n")

    @classmethod
    def from_dict(cls, d: dict) -> "Schedule":
        if not isinstance(d, dict) or d.get("scedsim_schedule") != SCHEDULE_VERSION:
            raise ValueError("not a scedsim schedule (no \"scedsim_schedule\": 1)")
        try:
            design = from_spec(d["design"])
            names = tuple(d["cases"])
            a = design.codes([d["cases"][n] for n in names])
        except KeyError as exc:
            raise ValueError(f"the schedule lacks {exc}") from None
        if not design.contains(a):
            raise ValueError(f"the schedule's assignment is not admissible under {design.describe()}")
        return cls(design, a, names, d.get("seed"))

    @classmethod
    def read(cls, path) -> "Schedule":
        """Read a schedule written by :meth:`write`."""
        import pathlib

        try:
            d = json.loads(pathlib.Path(path).read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not JSON ({exc})") from None
        return cls.from_dict(d)

    def table(self):
        """One row per case x occasion: ``case``, ``session`` (1, 2, ...) and ``phase``."""
        import pandas as pd

        labs = self.design.labels
        rows = [(n, t + 1, labs[int(c)]) for n, row in zip(self.case_names, self.assignment)
                for t, c in enumerate(row)]
        return pd.DataFrame(rows, columns=["case", "session", "phase"])

    def text(self) -> str:
        """The schedule as text: one line per case, the condition of each occasion."""
        d = self.design
        w = max(4, *(len(n) for n in self.case_names))
        cw = max(len(lab) for lab in d.labels)
        step = max(cw, len(str(d.n_time)))
        lines = [f"design: {d.describe()}  ({d.n_assignments()} admissible assignments, "
                 f"smallest p = {d.min_p():.4g})",
                 f"seed: {self.seed}",
                 f"{'case':{w}s}  " + " ".join(f"{t:>{step}d}" for t in range(1, d.n_time + 1))]
        for n, row in zip(self.case_names, self.assignment):
            lines.append(f"{n:{w}s}  " + " ".join(f"{d.labels[int(c)]:>{step}s}" for c in row))
        return "\n".join(lines)
