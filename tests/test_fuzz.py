"""Fuzz tests (issue 16): malformed tables through the CLI's reader, and malformed
input to every public effect-size function.

Asserted: no traceback (only a clean ValueError, or exit code 2 with one line),
and no finite result for input that has no defined answer.  Examples are capped
(each CLI call reads a file and runs every metric) to keep the suite fast.
"""
import math
import os
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scedsim as ss
from scedsim.cli import main
from scedsim.registry import metrics

# --------------------------------------------------------------------------- the table reader

JUNK = ["", "nan", "NaN", "NA", "n/a", "-", "inf", "-inf", "1e400", "1,5", "A", "B", "A1", "B2", "x", "é",
        "ß∂ƒ", "日本", "\"", "'", "  ", "1 2", "0x10", "None", "True", "1e-320", "-0", "00", "#"]
CELL = st.one_of(st.integers(-5, 40).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                 st.sampled_from(JUNK), st.text(max_size=4))
NAMES = st.sampled_from(["case", "session", "phase", "outcome", "value", "score", "Case", " phase", "", "x"])


@st.composite
def tables(draw):
    """A header of known and stray column names, then rows of junk or plausible cells."""
    cols = draw(st.lists(NAMES, min_size=0, max_size=6))
    n_rows = draw(st.integers(0, 8))
    plausible = draw(st.booleans())
    rows = []
    for r in range(n_rows):
        if plausible:
            # Near-valid: a case, a session, a phase A/B, a number, with junk mixed in.
            base = {"case": draw(st.sampled_from(["p1", "p2", ""])), "session": str(r + 1),
                    "phase": "A" if r < n_rows // 2 else "B", "outcome": draw(st.sampled_from(["EE", "DP", ""])),
                    "value": draw(CELL), "score": draw(CELL)}
            rows.append([base.get(c.strip().lower(), draw(CELL)) for c in cols])
        else:
            rows.append(draw(st.lists(CELL, min_size=0, max_size=len(cols) + 2)))
    sep = draw(st.sampled_from([",", "\t", ";"]))
    lines = [sep.join(cols)] + [sep.join(row) for row in rows]
    text = "\n".join(lines) if draw(st.booleans()) else draw(st.text(max_size=60))
    return text, draw(st.sampled_from([".csv", ".tsv"]))


OPTIONS = st.sampled_from([[], ["--outcome", "score"], ["--outcome", "score,value"], ["--outcome-column", "outcome"],
                           ["--metrics", "all"], ["--contrast", "A:B"], ["--decrease", "EE"]])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(table=tables(), extra=OPTIONS)
def test_cli_es_never_tracebacks(capsys, table, extra):
    text, ext = table
    fd, path = tempfile.mkstemp(suffix=ext)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        rc = main(["es", path, *extra])
    finally:
        os.unlink(path)
    out, err = capsys.readouterr()
    assert rc in (0, 2)
    if rc == 2:
        assert err.startswith("scedsim: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in out + err


AB_TEXT = st.one_of(st.lists(st.one_of(st.sampled_from(JUNK), st.integers(-50, 50).map(str),
                                        st.floats(allow_nan=True, allow_infinity=True).map(repr)),
                              max_size=6).map(" ".join), st.text(max_size=12))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=AB_TEXT, b=AB_TEXT, decrease=st.booleans())
def test_cli_ab_never_tracebacks(capsys, a, b, decrease):
    rc = main(["ab", "--a", a, "--b", b] + (["--decrease"] if decrease else []))
    out, err = capsys.readouterr()
    assert rc in (0, 2)
    if rc == 2:
        assert err.startswith("scedsim: error: ") and err.count("\n") == 1, err
    else:
        # Printed only for two non-empty phases of finite numbers.
        for text in (a, b):
            x = [float(v) for v in text.replace(",", " ").split()]
            assert x and all(math.isfinite(v) for v in x)


def test_cli_reader_refuses_an_empty_file(tmp_path, capsys):
    p = tmp_path / "empty.csv"
    p.write_text("")
    assert main(["es", str(p)]) == 2
    assert "is empty" in capsys.readouterr().err


# --------------------------------------------------------------------------- the public functions

ENTRIES = {name: m for name, m in metrics().items() if not getattr(m, "user", False)}
VALUE = st.one_of(st.floats(-1e6, 1e6), st.integers(0, 30).map(float),
                  st.floats(allow_nan=True, allow_infinity=True),
                  st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300, -1e300, 1e-300, 0.0]))
FINITE = st.one_of(st.floats(-1e6, 1e6), st.integers(0, 30).map(float), st.sampled_from([1e120, 1e-120, 0.0]))
PHASE = st.one_of(st.lists(FINITE, min_size=1, max_size=7), st.lists(VALUE, min_size=0, max_size=7),
                  st.lists(st.sampled_from(["1", "2", "x", None, b"3"]), min_size=1, max_size=4))


def _call(name, a, b, improvement):
    entry = ENTRIES[name]
    kw = dict(entry.required)
    return entry.func(np.array(a, dtype=object) if any(isinstance(v, (str, bytes)) or v is None for v in a)
                      else np.array(a, dtype=float),
                      np.array(b, dtype=object) if any(isinstance(v, (str, bytes)) or v is None for v in b)
                      else np.array(b, dtype=float), improvement=improvement, **kw)


def _undefined_input(a, b) -> str | None:
    """Why (a, b) has no defined answer for any metric, or None."""
    for label, x in (("A", a), ("B", b)):
        if not len(x):
            return f"phase {label} empty"
        for v in x:
            if not isinstance(v, float) or not math.isfinite(v):
                return f"phase {label} holds {v!r}"
    return None


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(ENTRIES)), a=PHASE, b=PHASE, improvement=st.sampled_from(["increase", "decrease"]))
def test_public_functions_refuse_cleanly_and_never_invent_a_value(name, a, b, improvement):
    try:
        with np.errstate(all="ignore"):
            r = _call(name, a, b, improvement)
    except ValueError as exc:
        assert str(exc).strip(), "a ValueError must say what is wrong"
        return
    why = _undefined_input(a, b)
    assert why is None, f"{name} returned {r!r} for input with no defined answer ({why})"
    entry = ENTRIES[name]
    est = float(r.estimate)
    if math.isfinite(est) and entry.bounds is not None:
        lo, hi = entry.bounds
        assert lo - 1e-9 <= est <= hi + 1e-9, (name, est)
    if name in ("lrr", "lrm"):
        assert not (min(a + b) < 0 and math.isfinite(est)), f"{name} gave {est} for negative data"
    if name == "smd" and len(set(a)) == 1:
        assert math.isnan(est), "SMD with a constant baseline (SD 0) has no value"


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_each_function_refuses_nan_empty_and_strings(name):
    for a, b in (([1.0, float("nan"), 3.0], [4.0, 5.0, 6.0]), ([], [4.0, 5.0, 6.0]), ([1.0, 2.0, 3.0], []),
                 (["1", "2", "3"], [4.0, 5.0, 6.0])):
        with pytest.raises(ValueError):
            _call(name, a, b, "increase")
