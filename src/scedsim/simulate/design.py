"""Single-case designs: phase structure per case, number of cases, contrasts."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Design", "Contrast", "parse_phases"]

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

    def __post_init__(self):
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
        """The compact form: ``"A3 B4"`` or one structure per case joined by ``|``."""
        per = [" ".join(f"{lab}{n}" for lab, n in case) for case in self.phases]
        if len(set(per)) == 1:
            return per[0]
        return " | ".join(per)

    def __str__(self) -> str:
        return f"{self.describe()} x {self.n_cases} case(s); contrasts {', '.join(map(str, self.contrasts))}"


def _positive_int(x, name: str) -> int:
    try:
        v = int(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive integer, got {x!r}") from None
    if v < 1 or v != x:
        raise ValueError(f"{name} must be a positive integer, got {x!r}")
    return v
