"""Single-case designs: phase structure per case, number of cases, contrasts."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Design", "Contrast", "parse_phases", "parse_random", "parse_alternating"]

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
    # An alternating treatments design: (max_run, random, (label A, label B)); see alternating().
    atd: tuple | None = None
    # Per replication and case, the drawn ATD sequences (see realise_sequences()).
    sequences: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.starts is not None:
            self._check_starts()
        if self.atd is not None:
            self._check_atd()
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
        if str(text).split()[:1] == ["ATD"]:
            return parse_alternating(str(text), n_cases, contrasts)
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

    @classmethod
    def alternating(cls, n_time: int | None = None, max_run: int | None = 2, n_cases: int = 1,
                    n_per_condition=None, sequence: str | None = None, labels=("A", "B"),
                    contrasts=None) -> "Design":
        """An alternating treatments design (ATD) of two conditions.

        Without ``sequence`` every replication draws each case's sequence anew,
        uniformly over the admissible ones: ``n_per_condition`` occasions per
        condition (default half of ``n_time`` each), no condition more than
        ``max_run`` times in a row (Onghena & Edgington 1994's restricted ATD;
        ``None``: no limit, the completely randomized design).  The draws come from
        their own random stream (as random start points do), so the models' draws
        and the results depend only on the seed.  With ``sequence`` (e.g.
        ``"ABBABAAB"``) every replication uses that one sequence; ``max_run`` then
        names the randomization it was drawn from (the reference set of the ATD
        randomization test, ``atd_test``).

        The models give each occasion its condition: the level effect where the
        condition is B, the errors (AR(1) over time) running across the
        alternation.  Carry-over between conditions is not modelled (only the
        ``onset`` option smooths the indicator, as in phase designs), and a
        slope change has no meaning in an ATD (it is off).

        ``phases`` holds a representative sequence (the first admissible one),
        used for labels, contrasts and the phase sizes; the series are generated
        and analysed at the sequences drawn by :meth:`draw_sequences`.

        References
        ----------
        Barlow, D. H., & Hayes, S. C. (1979). Alternating treatments design: One
        strategy for comparing the effects of two treatments in a single
        subject. *Journal of Applied Behavior Analysis*, 12(2), 199-210.

        Onghena, P., & Edgington, E. S. (1994). Randomization tests for
        restricted alternating treatments designs. *Behaviour Research and
        Therapy*, 32(7), 783-786.

        Examples
        --------
        >>> d = Design.alternating(12, max_run=2)
        >>> d.describe(), d.n_assignments()
        ('ATD n=12 max_run=2', 208)
        >>> d.draw_sequences(np.random.default_rng(1), 5).shape
        (5, 1, 12)
        >>> Design.parse("ATD seq=ABBABAAB").describe()
        'ATD seq=ABBABAAB max_run=2'
        """
        labels = tuple(str(x) for x in labels)
        if len(labels) != 2 or labels[0] == labels[1]:
            raise ValueError(f"an alternating treatments design compares two conditions, got labels {labels!r}")
        max_run = None if max_run is None else _positive_int(max_run, "max_run")
        if sequence is not None:
            seq = str(sequence).strip()
            bad = sorted(set(seq) - set(labels))
            if bad or not seq:
                raise ValueError(f"sequence {sequence!r} must be a string of the labels {''.join(labels)}")
            if n_time is not None and int(n_time) != len(seq):
                raise ValueError(f"sequence {seq!r} has {len(seq)} occasions, not n={n_time}")
            codes = np.array([labels.index(c) for c in seq], dtype=np.int8)
            random = False
        else:
            n_time = _positive_int(n_time, "n (occasions)")
            counts = _atd_counts(n_time, n_per_condition)
            codes = _first_sequence(counts, max_run)
            if codes is None:
                raise ValueError(f"no sequence of {n_time} occasions with {counts[0]} {labels[0]} and "
                                 f"{counts[1]} {labels[1]} keeps every run at most {max_run} long")
            random = True
        phases = _runs(codes, labels)
        if len(phases) < 2:
            raise ValueError(f"an alternating treatments design needs both conditions, got {''.join(labels[c] for c in codes)!r}")
        n = _positive_int(n_cases, "n_cases")
        return cls((phases,) * n, tuple(contrasts or ()), atd=(max_run, random, labels))

    def _check_atd(self):
        if self.starts is not None:
            raise ValueError("a design is either a multiple baseline with random starts or an ATD, not both")
        if len(self.labels) != 2:
            raise ValueError(f"an alternating treatments design has two conditions, got {', '.join(self.labels)}")
        counts = {tuple(int((c == j).sum()) for j in range(2)) for c in self.phase_codes()}
        if len(counts) != 1:
            raise ValueError("every case of an alternating treatments design needs the same number of "
                             "occasions per condition")
        max_run = self.atd[0]
        if max_run is not None:
            longest = max(n for case in self.phases for _, n in case)
            if longest > max_run:
                raise ValueError(f"the sequence has a run of {longest} occasions of one condition, more than "
                                 f"max_run={max_run}; give a larger max_run (or max_run=none)")

    @property
    def is_atd(self) -> bool:
        """True for an alternating treatments design (random or fixed sequence)."""
        return self.atd is not None

    @property
    def draws_sequences(self) -> bool:
        """True when every replication draws its own ATD sequences."""
        return self.atd is not None and bool(self.atd[1])

    @property
    def max_run(self) -> int | None:
        """An ATD's largest admissible run of one condition (None: no limit)."""
        return None if self.atd is None else self.atd[0]

    @property
    def condition_counts(self) -> tuple[int, int]:
        """An ATD's occasions per condition (A, B)."""
        codes = self.phase_codes()[0]
        return int((codes == 0).sum()), int((codes == 1).sum())

    def n_assignments(self) -> int:
        """An ATD's number of admissible sequences per case (Onghena & Edgington 1994),
        by the same dynamic programme as :class:`scedsim.designs.AlternatingTreatments`."""
        if not self.is_atd:
            raise ValueError("n_assignments() counts the sequences of an alternating treatments design")
        a, b = self.condition_counts
        return int(round(_ways_table(a, b, self.max_run)[a, b, 2, 0]))

    def draw_sequences(self, rng: np.random.Generator, n_reps: int) -> np.ndarray:
        """``(n_reps, n_cases, n_time)`` condition codes (0 = A, 1 = B): every case's
        sequence drawn independently and uniformly over the admissible ones (for a
        fixed sequence, that sequence repeated).

        Each occasion's condition is drawn with probability (admissible
        completions after it) / (admissible completions before it), which makes
        every admissible sequence equally likely; one uniform number per
        occasion, drawn in bulk."""
        codes = self.phase_codes()
        if not self.draws_sequences:
            return np.broadcast_to(codes.astype(np.int8), (int(n_reps),) + codes.shape).copy()
        a, b = self.condition_counts
        R = self.n_time if self.max_run is None else self.max_run
        table = _ways_table(a, b, self.max_run)
        top = table.shape[3] - 1  # the run column (one without a run limit)
        u = rng.random((int(n_reps) * self.n_cases, self.n_time))
        N = u.shape[0]
        left_a = np.full(N, a)
        left_b = np.full(N, b)
        last = np.full(N, 2)
        run = np.zeros(N, dtype=np.int64)
        out = np.empty((N, self.n_time), dtype=np.int8)
        for t in range(self.n_time):
            ok_a = (left_a > 0) & ~((last == 0) & (run >= R))
            ok_b = (left_b > 0) & ~((last == 1) & (run >= R))
            run_a = np.where(last == 0, run + 1, 1)
            run_b = np.where(last == 1, run + 1, 1)
            w_a = np.where(ok_a, table[np.maximum(left_a - 1, 0), left_b, 0, np.minimum(run_a, top)], 0.0)
            w_b = np.where(ok_b, table[left_a, np.maximum(left_b - 1, 0), 1, np.minimum(run_b, top)], 0.0)
            pick_b = u[:, t] * (w_a + w_b) >= w_a
            out[:, t] = pick_b
            run = np.where(pick_b, run_b, run_a)
            last = pick_b.astype(np.int64)
            left_a = left_a - ~pick_b
            left_b = left_b - pick_b
        return out.reshape(int(n_reps), self.n_cases, self.n_time)

    def realise_sequences(self, sequences: np.ndarray) -> "Design":
        """The ATD with per-replication sequences ``sequences`` (``(n_reps, n_cases, n_time)``
        codes, 0 = A, 1 = B), which the models and the analysis use."""
        seq = np.asarray(sequences, dtype=np.int8)
        if not self.is_atd:
            raise ValueError("realised sequences need an alternating treatments design")
        if seq.ndim != 3 or seq.shape[1:] != (self.n_cases, self.n_time):
            raise ValueError(f"realised sequences must be (n_reps, {self.n_cases}, {self.n_time}), got {seq.shape}")
        if seq.size and (seq.min() < 0 or seq.max() > 1 or
                         np.any(seq.sum(axis=2) != self.condition_counts[1])):
            raise ValueError(f"realised sequences must hold {self.condition_counts[1]} B (1) occasions per case")
        return replace(self, sequences=seq)

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
        """Every phase (and every admissible start) ``factor`` times longer; an ATD
        ``factor`` times as many occasions per condition, under the same run limit."""
        if self.draws_sequences:
            a, b = self.condition_counts
            return Design.alternating((a + b) * factor, self.max_run, self.n_cases, (a * factor, b * factor),
                                      labels=self.labels, contrasts=self.contrasts)
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
        """Phase labels in order of first appearance (an ATD's two conditions in their
        given order, whichever comes first in a sequence)."""
        if self.atd is not None and len(self.atd) > 2:
            return tuple(self.atd[2])
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
        (``"MB n_time=12 starts=3-6"`` for random starts, see :func:`parse_random`;
        ``"ATD n=12 max_run=2"`` for an ATD, see :func:`parse_alternating`)."""
        if self.is_atd:
            mr = "none" if self.max_run is None else self.max_run
            if self.draws_sequences:
                a, b = self.condition_counts
                text = f"ATD n={self.n_time} max_run={mr}" + ("" if a == b else f" n_per_condition={a}/{b}")
            else:
                seqs = {"".join(self.labels[c] for c in row) for row in self.phase_codes()}
                text = f"ATD seq={'|'.join(sorted(seqs))} max_run={mr}"
            if self.labels != ("A", "B"):
                text += f" labels={''.join(self.labels)}"
            return text
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


def parse_alternating(text: str, n_cases: int = 1, contrasts=None) -> Design:
    """An alternating treatments design from its compact form.

    ``"ATD n=12 max_run=2"``: each replication draws every case's sequence of
    12 occasions (6 A, 6 B, no condition more than twice in a row) anew.
    ``"ATD n=11 max_run=3 n_per_condition=5/6"`` sets the counts;
    ``max_run=none`` lifts the run limit.  ``"ATD seq=ABBABAAB"`` fixes the
    sequence (``max_run`` then names the randomization it came from, default 2).
    ``labels=XY`` renames the two conditions.  See :meth:`Design.alternating`.
    """
    opts = {}
    for tok in text.split()[1:]:
        k, eq, v = tok.partition("=")
        k = "n" if k == "n_time" else k
        if not eq or k not in ("n", "max_run", "seq", "labels", "n_per_condition") or k in opts:
            raise ValueError(f"cannot read {tok!r} in design {text!r}: write key=value once each, with keys n, "
                             "max_run, n_per_condition, seq, labels (e.g. 'ATD n=12 max_run=2')")
        opts[k] = v
    if "n" not in opts and "seq" not in opts:
        raise ValueError(f"design {text!r} needs n (occasions) or seq (a fixed sequence), e.g. 'ATD n=12 max_run=2'")
    try:
        n = int(opts["n"]) if "n" in opts else None
        mr = opts.get("max_run", "2")
        max_run = None if mr.lower() == "none" else int(mr)
        npc = [int(x) for x in opts["n_per_condition"].split("/")] if "n_per_condition" in opts else None
    except ValueError:
        raise ValueError(f"design {text!r}: n, max_run and n_per_condition are integers "
                         "(n_per_condition as a/b, max_run may be none)") from None
    return Design.alternating(n, max_run, n_cases=n_cases, n_per_condition=npc, sequence=opts.get("seq"),
                              labels=tuple(opts.get("labels", "AB")), contrasts=contrasts)


def _atd_counts(n_time: int, n_per_condition) -> tuple[int, int]:
    if n_per_condition is None:
        if n_time % 2:
            raise ValueError(f"{n_time} occasions do not split equally over two conditions; give n_per_condition")
        return n_time // 2, n_time // 2
    counts = tuple(_positive_int(c, "n_per_condition") for c in n_per_condition)
    if len(counts) != 2 or sum(counts) != n_time:
        raise ValueError(f"n_per_condition must be two counts adding up to {n_time}, got {list(n_per_condition)}")
    return counts


@functools.lru_cache(maxsize=64)
def _ways_table(a: int, b: int, max_run: int | None) -> np.ndarray:
    """``W[i, j, last, run]``: the admissible completions of a sequence with ``i`` A and
    ``j`` B occasions still to place, the last condition given ``last`` (2: none yet)
    ``run`` times in a row.  Floats (the counts outgrow 64-bit integers in long
    series); exact below 2**53, which covers every count a test enumerates.  Without
    a run limit the count is C(i + j, i) whatever came before (one ``run`` column)."""
    if max_run is None:
        from scipy.special import gammaln

        i, j = np.meshgrid(np.arange(a + 1), np.arange(b + 1), indexing="ij")
        W = np.exp(gammaln(i + j + 1) - gammaln(i + 1) - gammaln(j + 1)).round()
        W = np.repeat(W[:, :, None, None], 3, axis=2)
        W.setflags(write=False)
        return W
    R = max_run
    W = np.zeros((a + 1, b + 1, 3, R + 1))
    W[0, 0] = 1.0
    for tot in range(1, a + b + 1):
        for i in range(max(0, tot - b), min(a, tot) + 1):
            j = tot - i
            for last in range(3):
                for run in range(R + 1):
                    w = 0.0
                    if i > 0 and not (last == 0 and run >= R):
                        w += W[i - 1, j, 0, run + 1 if last == 0 else 1]
                    if j > 0 and not (last == 1 and run >= R):
                        w += W[i, j - 1, 1, run + 1 if last == 1 else 1]
                    W[i, j, last, run] = w
    W.setflags(write=False)
    return W


def _first_sequence(counts, max_run):
    """The first admissible sequence in lexicographic order (A before B), or None."""
    a, b = counts
    W = _ways_table(a, b, max_run)
    R = a + b if max_run is None else max_run
    top = W.shape[3] - 1
    if W[a, b, 2, 0] == 0:
        return None
    out, last, run = [], 2, 0
    for _ in range(a + b):
        if a > 0 and not (last == 0 and run >= R) and W[a - 1, b, 0, min(run + 1 if last == 0 else 1, top)] > 0:
            run, last, a = (run + 1 if last == 0 else 1), 0, a - 1
        else:
            run, last, b = (run + 1 if last == 1 else 1), 1, b - 1
        out.append(last)
    return np.array(out, dtype=np.int8)


def _runs(codes, labels) -> tuple:
    out = []
    for c in codes:
        if out and out[-1][0] == labels[c]:
            out[-1][1] += 1
        else:
            out.append([labels[c], 1])
    return tuple((lab, n) for lab, n in out)


def _positive_int(x, name: str) -> int:
    try:
        v = int(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive integer, got {x!r}") from None
    if v < 1 or v != x:
        raise ValueError(f"{name} must be a positive integer, got {x!r}")
    return v
