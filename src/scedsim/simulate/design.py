"""Single-case designs: phase structure per case, number of cases, contrasts."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Design", "Contrast", "parse_phases", "parse_random"]

_PHASE = re.compile(r"^([A-Za-z][A-Za-z_]*?)(\d+)$")


def parse_phases(text: str) -> tuple[tuple[str, int], ...]:
    """Parse a compact phase string such as ``"A3 B4"`` or ``"A3 B3 A3 B3"``.

    Each token is a label (letters) followed by a length (digits).
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"a design needs phases such as 'A3 B4', got {text!r}")
    out = []
    for tok in text.replace(",", " ").split():
        m = _PHASE.match(tok)
        if not m:
            raise ValueError(f"cannot read phase {tok!r} in design {text!r}: write a label then a length, e.g. 'A3'")
        length = int(m.group(2))
        if length < 1:
            raise ValueError(f"phase {tok!r} in design {text!r} has no points")
        out.append((m.group(1), length))
    return tuple(out)


@dataclass(frozen=True)
class Contrast:
    """A comparison of a baseline phase with one or more later phases.

    ``baseline`` and each of ``comparison`` name either every phase with that
    label (``"A"``) or one occurrence of it (``"A1"``, ``"B2"``: the first A
    phase, the second B phase).  Several comparison phases are pooled, in time
    order (``"A:B+C"``).
    """

    baseline: str
    comparison: tuple[str, ...]

    @classmethod
    def parse(cls, text: "str | Contrast") -> "Contrast":
        if isinstance(text, Contrast):
            return text
        if not isinstance(text, str) or ":" not in text:
            raise ValueError(f"a contrast looks like 'A:B', 'A:C' or 'A:B+C', got {text!r}")
        base, comp = text.split(":", 1)
        if "+" in base:
            raise ValueError(f"contrast {text!r}: pooling ('+') is allowed on the comparison side only, "
                             "e.g. 'A:B+C'; the baseline is one phase label ('A' takes every A phase, "
                             "'A1' the first)")
        parts = tuple(p.strip() for p in comp.split("+") if p.strip())
        if not base.strip() or not parts:
            raise ValueError(f"a contrast looks like 'A:B', 'A:C' or 'A:B+C', got {text!r}")
        return cls(base.strip(), parts)

    def __str__(self) -> str:
        return f"{self.baseline}:{'+'.join(self.comparison)}"


@dataclass(frozen=True)
class Design:
    """The phase structure of every case in a single-case study.

    Parameters
    ----------
    phases : tuple of tuple of (str, int)
        One phase structure per case, e.g. ``((("A", 3), ("B", 4)),) * 6``.
        All cases have the same number of occasions (time points).
    contrasts : tuple of Contrast
        The comparisons to analyse; default the first label against the second.

    Use :meth:`parse` for the compact form (``Design.parse("A3 B4", n_cases=6)``)
    and :meth:`multiple_baseline` for staggered intervention points.
    """

    phases: tuple
    contrasts: tuple = field(default=())
    starts: tuple | None = None
    scheme: str = "marascuilo_busk"
    # Per replication and case, the drawn baseline lengths (see realise()).
    realised: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.starts is not None:
            self._check_starts()
        if not self.phases:
            raise ValueError("a design needs at least one case")
        lengths = {sum(n for _, n in case) for case in self.phases}
        if len(lengths) != 1:
            raise ValueError(f"every case must have the same number of occasions, got {sorted(lengths)}")
        if not self.contrasts:
            labels = self.labels
            if len(labels) < 2:
                raise ValueError("a design needs at least two phase labels to compare")
            object.__setattr__(self, "contrasts", (Contrast(labels[0], (labels[1],)),))
        else:
            object.__setattr__(self, "contrasts", tuple(Contrast.parse(c) for c in self.contrasts))
        for c in self.contrasts:
            for case in range(self.n_cases):
                self.indices(c, case)  # raises on unknown labels

    # ------------------------------------------------------------------ construction
    @classmethod
    def parse(cls, text: str, n_cases: int = 1, contrasts=None) -> "Design":
        """Build a design from ``"A3 B4"`` (every case alike).

        ``text`` may also hold one structure per case separated by ``|``
        (``"A3 B4 | A4 B3"``), in which case ``n_cases`` must be 1 or match.
        """
        if isinstance(text, Design):
            return text
        if str(text).split()[:1] == ["MB"]:
            return parse_random(str(text), n_cases, contrasts)
        per_case = [parse_phases(t) for t in str(text).split("|")]
        if len(per_case) == 1:
            n = _positive_int(n_cases, "n_cases")
            per_case = per_case * n
        elif n_cases not in (1, len(per_case)):
            raise ValueError(f"design {text!r} has {len(per_case)} cases but n_cases={n_cases}")
        return cls(tuple(per_case), tuple(contrasts or ()))

    @classmethod
    def multiple_baseline(cls, baseline_lengths, n_time: int, labels=("A", "B"), contrasts=None) -> "Design":
        """A multiple-baseline design: case k has ``baseline_lengths[k]`` baseline points,
        then the treatment phase until occasion ``n_time``."""
        n_time = _positive_int(n_time, "n_time")
        cases = []
        for k, m in enumerate(baseline_lengths):
            m = _positive_int(m, "baseline length")
            if m >= n_time:
                raise ValueError(f"case {k + 1}: baseline of {m} leaves no treatment points in {n_time} occasions")
            cases.append(((labels[0], m), (labels[1], n_time - m)))
        return cls(tuple(cases), tuple(contrasts or ()))

    @classmethod
    def multiple_baseline_random(cls, n_time: int, starts, n_cases: int | None = None,
                                 scheme: str = "marascuilo_busk", labels=("A", "B"), contrasts=None) -> "Design":
        """A multiple-baseline AB design whose start points are drawn anew in every replication.

        Parameters
        ----------
        n_time : int
            Occasions per case.
        starts : sequence of int, or sequence of sequences of int
            Admissible baseline lengths (the intervention starts at occasion
            ``m + 1``): one set shared by every case, or one set per case (tier).
        n_cases : int, optional
            Number of cases; needed with one shared set, else the number of sets.
        scheme : {"marascuilo_busk", "koehler_levin"}
            ``"marascuilo_busk"``: each case draws its baseline length uniformly
            and independently from its own set (Marascuilo & Busk 1988), the
            randomization the ``mbd_test`` reference set assumes when the set
            holds every start leaving ``min_phase`` points per phase.
            ``"koehler_levin"``: the cases are assigned to the tiers by a random
            permutation, and tier k draws its baseline length uniformly from set k
            (regulated randomization, Koehler & Levin 1998).  A study's
            ``mbd_test`` with ``tier_starts = "design"`` takes exactly this
            randomization (sets and scheme) as its reference set.
        labels, contrasts
            As for :meth:`multiple_baseline`.

        Notes
        -----
        ``phases`` holds a representative structure (each case at the smallest
        start of its set) used for labels and contrasts; the series are
        generated and analysed at the starts drawn by :meth:`draw_starts`.

        References
        ----------
        Marascuilo, L. A., & Busk, P. L. (1988). Combining statistics for
        multiple-baseline AB and replicated ABAB designs across subjects.
        *Behavioral Assessment*, 10(1), 1-28.

        Koehler, M. J., & Levin, J. R. (1998). Regulated randomization: A
        potentially sharper analytical tool for the multiple-baseline design.
        *Psychological Methods*, 3(2), 206-217.

        Examples
        --------
        >>> d = Design.multiple_baseline_random(12, [3, 4, 5, 6], n_cases=3)
        >>> d.describe()
        'MB n_time=12 starts=3-6'
        >>> d.draw_starts(np.random.default_rng(1), 2).shape
        (2, 3)
        """
        n_time = _positive_int(n_time, "n_time")
        sets = [starts] if all(isinstance(v, (int, np.integer)) for v in starts) else list(starts)
        if len(sets) == 1:
            if n_cases is None:
                raise ValueError("one set of starts shared by every case needs n_cases")
            sets = sets * _positive_int(n_cases, "n_cases")
        elif n_cases not in (None, 1, len(sets)):
            raise ValueError(f"{len(sets)} sets of starts (one per case) but n_cases={n_cases}")
        sets = tuple(tuple(sorted({int(v) for v in s})) for s in sets)
        cases = tuple(((labels[0], s[0] if s else 1), (labels[1], n_time - (s[0] if s else 1))) for s in sets)
        return cls(cases, tuple(contrasts or ()), starts=sets, scheme=scheme)

    def _check_starts(self):
        if self.scheme not in ("marascuilo_busk", "koehler_levin"):
            raise ValueError(f"unknown scheme {self.scheme!r}; expected 'marascuilo_busk' or 'koehler_levin'")
        if len(self.starts) != self.n_cases:
            raise ValueError(f"random starts need one set per case: {len(self.starts)} sets for {self.n_cases} cases")
        for k, s in enumerate(self.starts):
            if not s:
                raise ValueError(f"case {k + 1}: the set of admissible starts is empty")
            bad = [m for m in s if not 1 <= m <= self.n_time - 1]
            if bad:
                raise ValueError(f"case {k + 1}: baseline length(s) {bad} leave no baseline or no treatment "
                                 f"point in {self.n_time} occasions")
            if len(self.phases[k]) != 2:
                raise ValueError("random starts need an AB design (a baseline, then a treatment phase)")

    @property
    def is_random(self) -> bool:
        """True when start points are drawn per replication."""
        return self.starts is not None

    def draw_starts(self, rng: np.random.Generator, n_reps: int) -> np.ndarray:
        """``(n_reps, n_cases)`` baseline lengths drawn under the design's scheme."""
        if not self.is_random:
            return np.tile(np.array([case[0][1] for case in self.phases]), (n_reps, 1))
        n = self.n_cases
        # Tier k's draw: a uniform index into its set.
        draws = np.stack([np.asarray(s)[rng.integers(0, len(s), n_reps)] for s in self.starts], axis=1)
        if self.scheme == "koehler_levin":
            # Random assignment of cases to tiers: case k gets the start of tier perm[k].
            perm = rng.permuted(np.tile(np.arange(n), (n_reps, 1)), axis=1)
            draws = np.take_along_axis(draws, perm, axis=1)
        return draws

    def start_distribution(self, case: int) -> dict:
        """The marginal distribution of ``case``'s baseline length: ``{m: probability}``."""
        if not self.is_random:
            return {int(self.phases[case][0][1]): 1.0}
        sets = self.starts if self.scheme == "koehler_levin" else (self.starts[case],)
        out: dict = {}
        for s in sets:
            for m in s:
                out[m] = out.get(m, 0.0) + 1.0 / (len(s) * len(sets))
        return out

    def realise(self, starts: np.ndarray) -> "Design":
        """The design with per-replication baseline lengths ``starts`` (``(n_reps, n_cases)``),
        which the models and :func:`~scedsim.simulate.analysis.analyze_block` use."""
        starts = np.asarray(starts, dtype=np.int64)
        if starts.ndim != 2 or starts.shape[1] != self.n_cases:
            raise ValueError(f"realised starts must be (n_reps, {self.n_cases}), got shape {starts.shape}")
        if any(len(case) != 2 for case in self.phases):
            raise ValueError("realised start points need an AB design (a baseline, then a treatment phase)")
        if starts.size and (starts.min() < 1 or starts.max() > self.n_time - 1):
            raise ValueError(f"realised baseline lengths must lie in 1..{self.n_time - 1}")
        return replace(self, realised=starts)

    def fixed(self, case: int, m: int) -> "Design":
        """A one-case fixed design: ``case``'s structure with a baseline of ``m`` points."""
        (la, _), (lb, _) = self.phases[case]
        return Design(((( la, int(m)), (lb, self.n_time - int(m))),), self.contrasts)

    def scaled(self, factor: int) -> "Design":
        """Every phase (and every admissible start) ``factor`` times longer."""
        phases = tuple(tuple((lab, n * factor) for lab, n in case) for case in self.phases)
        starts = None if self.starts is None else tuple(tuple(m * factor for m in s) for s in self.starts)
        return Design(phases, self.contrasts, starts=starts, scheme=self.scheme)

    # ------------------------------------------------------------------ properties
    @property
    def n_cases(self) -> int:
        return len(self.phases)

    @property
    def n_time(self) -> int:
        return sum(n for _, n in self.phases[0])

    @property
    def labels(self) -> tuple[str, ...]:
        """Phase labels in order of first appearance."""
        seen = []
        for case in self.phases:
            for lab, _ in case:
                if lab not in seen:
                    seen.append(lab)
        return tuple(seen)

    @property
    def baseline_label(self) -> str:
        return self.phases[0][0][0]

    def phase_codes(self) -> np.ndarray:
        """``(n_cases, n_time)`` array: the index in :attr:`labels` of each occasion's phase."""
        labels = self.labels
        out = np.empty((self.n_cases, self.n_time), dtype=np.int64)
        for k, case in enumerate(self.phases):
            t = 0
            for lab, n in case:
                out[k, t:t + n] = labels.index(lab)
                t += n
        return out

    def treatment_start(self) -> np.ndarray:
        """Per case, the first occasion (1-based) after the baseline phase."""
        return np.array([case[0][1] + 1 for case in self.phases])

    def indices(self, contrast, case: int) -> tuple[np.ndarray, np.ndarray]:
        """Time indices (0-based) of the baseline and comparison points of ``case``."""
        c = Contrast.parse(contrast)
        return self._select(c.baseline, case), np.sort(np.concatenate([self._select(p, case) for p in c.comparison]))

    def _select(self, name: str, case: int) -> np.ndarray:
        m = re.match(r"^([A-Za-z][A-Za-z_]*?)(\d*)$", name)
        if m is None:
            raise ValueError(f"cannot read phase {name!r} in a contrast: write a label such as 'B' or 'B2'")
        label, occ = m.group(1), (int(m.group(2)) if m.group(2) else None)
        if label not in self.labels:
            raise ValueError(f"unknown phase label {label!r} in contrast; the design has {', '.join(self.labels)}")
        idx, t, seen = [], 0, 0
        for lab, n in self.phases[case]:
            if lab == label:
                seen += 1
                if occ is None or occ == seen:
                    idx.extend(range(t, t + n))
            t += n
        if not idx:
            raise ValueError(f"case {case + 1} has no phase {name!r}")
        return np.array(idx, dtype=np.int64)

    def describe(self) -> str:
        """The compact form: ``"A3 B4"`` or one structure per case joined by ``|``
        (``"MB n_time=12 starts=3-6"`` for random starts, see :func:`parse_random`)."""
        if self.is_random:
            sets = self.starts if len(set(self.starts)) > 1 else self.starts[:1]
            text = f"MB n_time={self.n_time} starts={','.join(_window_text(s) for s in sets)}"
            if self.scheme != "marascuilo_busk":
                text += f" scheme={self.scheme}"
            if self.labels != ("A", "B"):
                text += f" labels={''.join(self.labels)}"
            return text
        per = [" ".join(f"{lab}{n}" for lab, n in case) for case in self.phases]
        if len(set(per)) == 1:
            return per[0]
        return " | ".join(per)

    def __str__(self) -> str:
        return f"{self.describe()} x {self.n_cases} case(s); contrasts {', '.join(map(str, self.contrasts))}"


def _window_text(s) -> str:
    s = list(s)
    if len(s) > 1 and s == list(range(s[0], s[-1] + 1)):
        return f"{s[0]}-{s[-1]}"
    return "/".join(map(str, s))


def parse_random(text: str, n_cases: int = 1, contrasts=None) -> Design:
    """A multiple baseline with start points drawn per replication, from its compact form.

    ``"MB n_time=12 starts=4-9"``: every case's baseline length is drawn from
    4..9 (Marascuilo-Busk: independently per case).
    ``"MB n_time=12 starts=3-4,5-6,7-8 scheme=koehler_levin"``: one set per
    tier, cases assigned to tiers at random.  A set is ``lo-hi`` (inclusive),
    one number, or numbers joined by ``/`` (``3/5/8``); sets are separated by
    commas.  See :meth:`Design.multiple_baseline_random`.
    """
    opts = {}
    for tok in text.split()[1:]:
        if "=" not in tok:
            raise ValueError(f"cannot read {tok!r} in design {text!r}: write key=value, e.g. 'MB n_time=12 starts=4-9'")
        k, v = tok.split("=", 1)
        if k not in ("n_time", "starts", "scheme", "labels") or k in opts:
            raise ValueError(f"design {text!r}: unknown or repeated key {k!r}; expected n_time, starts, scheme, labels")
        opts[k] = v
    if "n_time" not in opts or "starts" not in opts:
        raise ValueError(f"design {text!r} needs n_time and starts, e.g. 'MB n_time=12 starts=4-9'")
    sets = []
    for part in opts["starts"].split(","):
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-"))
                if hi < lo:
                    raise ValueError
                sets.append(list(range(lo, hi + 1)))
            else:
                sets.append([int(x) for x in part.split("/")])
        except ValueError:
            raise ValueError(f"design {text!r}: cannot read the starts {part!r}; write e.g. 4-9 or 3/5/8") from None
    try:
        n_time = int(opts["n_time"])
    except ValueError:
        raise ValueError(f"design {text!r}: n_time must be a positive integer") from None
    labels = tuple(opts.get("labels", "AB"))
    if len(labels) != 2 or labels[0] == labels[1]:
        raise ValueError(f"design {text!r}: labels must be two different letters, e.g. labels=AB")
    n = n_cases if len(sets) == 1 else (len(sets) if n_cases == 1 else n_cases)
    return Design.multiple_baseline_random(n_time, sets, n_cases=n, scheme=opts.get("scheme", "marascuilo_busk"),
                                           labels=labels, contrasts=contrasts)


def _positive_int(x, name: str) -> int:
    try:
        v = int(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive integer, got {x!r}") from None
    if v < 1 or v != x:
        raise ValueError(f"{name} must be a positive integer, got {x!r}")
    return v
