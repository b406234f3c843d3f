"""Reading study tables and checking them into single-case series.

Two table layouts are accepted, both with one row per case x session:

* **long**: one row per case x session x outcome, a column naming the outcome
  (``outcome=``, e.g. the questionnaire subscale) and a column holding the score
  (``value=``);
* **wide**: one column per outcome, listed in ``outcomes=``.

Every problem raises a :class:`ValueError` that names the column, case, session
or outcome concerned; nothing is dropped or coerced silently.
"""
from __future__ import annotations

import pathlib
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["read_table", "to_long", "CaseSeries"]

_CSV = (".csv",)
_TSV = (".tsv", ".tab")
_EXCEL = (".xlsx", ".xlsm", ".xls")


def read_table(path, text=("case", "phase", "outcome")) -> pd.DataFrame:
    """Read a CSV, TSV or Excel file into a DataFrame.

    The format follows the extension: ``.csv`` (comma-separated, or
    semicolon-separated as Excel writes it in some locales), ``.tsv`` or
    ``.tab`` (tab-separated), ``.xlsx``/``.xlsm`` (needs the optional package
    ``openpyxl``) or ``.xls`` (needs ``xlrd``).  Only the first sheet of a
    workbook is read.

    Parameters
    ----------
    path : str or path-like
    text : sequence of str
        Columns read as text, as written: labels such as phase ``01``, ``1``
        and ``1.0`` stay three different labels (a number reader would make
        them one, or lose the leading zero).  Default: the columns named
        case, phase and outcome; columns the file lacks are ignored.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    ValueError
        For a missing file, an unknown extension, a missing Excel reader or an
        unreadable file, with a one-line message.
    """
    p = pathlib.Path(path)
    if not p.is_file():
        raise ValueError(f"no such file: {str(path)!r}")
    ext = p.suffix.lower()
    as_text = {c: str for c in text}
    try:
        if ext in _CSV:
            df = pd.read_csv(p, dtype=as_text)
            if df.shape[1] == 1 and ";" in str(df.columns[0]):
                # Excel writes ';'-separated "CSV" in locales with a decimal comma.
                df = pd.read_csv(p, sep=";", dtype=as_text)
            return df
        if ext in _TSV:
            return pd.read_csv(p, sep="\t", dtype=as_text)
        if ext in _EXCEL:
            engine = "xlrd" if ext == ".xls" else "openpyxl"
            try:
                __import__(engine)
            except ImportError:
                extra = " (scedsim's excel extra)" if engine == "openpyxl" else ""
                raise ValueError(f"reading {ext} files needs the package {engine}: "
                                 f"pip install {engine}{extra}, or save the sheet as CSV") from None
            try:
                return pd.read_excel(p, engine=engine, dtype=as_text)
            except Exception as exc:   # noqa: BLE001
                # The readers raise whatever their parser meets (BadZipFile for a file
                # that is not a zip, KeyError for a zip that is not a workbook, ...).
                raise ValueError(f"cannot read {str(path)!r} as an Excel workbook: "
                                 f"{_first_line(exc)}") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"{str(path)!r} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {str(path)!r}: {_first_line(exc)}") from None
    raise ValueError(f"unknown file type {ext or '(none)'!r} for {str(path)!r}; "
                     "use .csv, .tsv, .tab, .xlsx or .xls")


def _first_line(exc: BaseException) -> str:
    """First line of an exception's message, or its type when it has none."""
    # A KeyError's str() is the repr of its key; its argument reads better.
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    text = text.strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass
class CaseSeries:
    """One case's series of one outcome, in session order (internal container)."""

    case: object
    outcome: str
    sessions: np.ndarray
    phases: np.ndarray          # phase labels as str
    values: np.ndarray          # float64
    dropped: list = field(default_factory=list)   # (session, phase) of each dropped missing value


def phase_runs(labels) -> list:
    """Runs of equal consecutive labels: list of [label, first index, last index]."""
    labels = list(labels)
    if not labels:
        return []
    # The change points in one vectorised comparison: this runs once per series,
    # and a Python loop over every session was a large share of a big table's time.
    arr = np.asarray(labels, dtype=object)
    change = np.flatnonzero(arr[1:] != arr[:-1]) + 1
    starts = [0, *change.tolist()]
    ends = [*(change - 1).tolist(), len(labels) - 1]
    return [[labels[i], i, j] for i, j in zip(starts, ends)]


def _need_columns(df: pd.DataFrame, spec: dict) -> None:
    for role, col in spec.items():
        if col not in df.columns:
            have = ", ".join(map(str, df.columns))
            raise ValueError(f"column {col!r} ({role}) not found; the table has: {have}")


def show(v) -> str:
    """repr of a table value, as plain Python (``4``, not ``np.int64(4)``)."""
    return repr(v.item() if isinstance(v, np.generic) else v)


def _where(df: pd.DataFrame, idx, case: str, session: str) -> str:
    row = df.loc[idx]
    return f"case {show(row[case])}, session {show(row[session])}"


def _numeric_sessions(s: pd.Series, col: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
        return s
    num = pd.to_numeric(s, errors="coerce")
    bad = num.isna() & s.notna()
    if bad.any():
        raise ValueError(f"column {col!r} (session) must hold numbers giving the time order; "
                         f"found {show(s[bad].iloc[0])}")
    return num


def _scores(s: pd.Series, what: str, df, case, session) -> pd.Series:
    """Scores as float; text is an error naming where it is."""
    if pd.api.types.is_bool_dtype(s):
        raise ValueError(f"{what} holds True/False values; scores must be numbers")
    if pd.api.types.is_numeric_dtype(s):
        out = s.astype("float64")
    else:
        out = pd.to_numeric(s, errors="coerce").astype("float64")
        bad = out.isna() & s.notna()
        if bad.any():
            idx = bad.idxmax()
            raise ValueError(f"{what} holds text {show(s[idx])} at {_where(df, idx, case, session)}; "
                             "scores must be numbers")
    inf = np.isinf(out.to_numpy())
    if inf.any():
        idx = out.index[np.argmax(inf)]
        raise ValueError(f"{what} holds an infinite value at {_where(df, idx, case, session)}")
    return out


def case_ids(df: pd.DataFrame, case: str) -> pd.Series:
    """The case column as :func:`to_long` reads it: text ids stripped of surrounding blanks."""
    return _clean_labels(df[case], keep_type=True)


def _clean_labels(s: pd.Series, keep_type: bool = False) -> pd.Series:
    """Labels without surrounding whitespace; missing values stay missing.

    With ``keep_type`` only text values change (numeric case ids stay numbers);
    otherwise every label becomes text.
    """
    if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
        return s if keep_type else s.where(s.isna(), s.astype(str))
    if keep_type:
        return s.map(lambda v: v.strip() if isinstance(v, str) else v)
    return s.map(lambda v: v if pd.isna(v) else str(v).strip())


def _reads_as_wide(df, case, session, outcome, value, outcomes) -> bool:
    """Whether the table is wide (one column per outcome) rather than long."""
    if outcomes is None:
        return False
    as_columns = all(o in df.columns for o in outcomes)
    as_labels = False
    if outcome in df.columns and value in df.columns:
        labels = set(_clean_labels(df[outcome]).dropna())
        as_labels = all(str(o).strip() in labels for o in outcomes)
    if not (as_columns and as_labels):
        return as_columns
    # Both readings fit.  A long table with several outcomes repeats each case x
    # session, once per outcome, which a wide table cannot do: then it is long.
    if df.duplicated([case, session]).any():
        return False
    both = [o for o in outcomes if o in df.columns]
    raise ValueError(
        f"cannot tell whether the table is long or wide: {', '.join(map(repr, both))} "
        f"{'is' if len(both) == 1 else 'are'} both a column and a label in column {outcome!r}; "
        f"to read it as long, rename or drop column {both[0]!r}; to read it as wide, rename the "
        f"columns {outcome!r} and {value!r} (or name others with outcome=/value=, "
        "command line: --outcome-column/--value)")


def to_long(df, *, case: str = "case", session: str = "session", phase: str = "phase",
            outcome: str = "outcome", value: str = "value", outcomes=None,
            missing: str = "error") -> list[CaseSeries]:
    """Check a study table and split it into one :class:`CaseSeries` per case and outcome.

    Parameters
    ----------
    df : pandas.DataFrame
        The table, long or wide (see the module docstring).
    case, session, phase : str
        Columns naming the case, the session (numbers or dates giving the time
        order) and the phase label of that session.
    outcome, value : str
        Long layout: the column naming the outcome and the column with the score.
    outcomes : list of str, optional
        Wide layout: the score columns, one per outcome.  Long layout: which
        outcomes to keep, in this order (default: all, in order of appearance).
        The table is read as long when it has the ``outcome`` and ``value``
        columns and every name in ``outcomes`` is a label in the ``outcome``
        column; as wide when every name is a column.  When both readings fit
        and the table has one row per case x session, it is ambiguous and a
        ValueError says how to settle it.
    missing : {"error", "drop"}
        A missing score is an error naming its case, session and outcome, or,
        with ``"drop"``, is left out; the dropped sessions are recorded on the
        series (and a :class:`UserWarning` says how many).

    Returns
    -------
    list of CaseSeries
        One per outcome x case, ordered by outcome, then case (each in order
        of first appearance), each series sorted by session.  A case with no
        score for an outcome (no row, or every value dropped) gets an empty
        series.

    Notes
    -----
    Phase and outcome labels, and case ids given as text, are stripped of
    surrounding whitespace: ``"B "`` is phase ``"B"``.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if missing not in ("error", "drop"):
        raise ValueError(f"unknown missing {missing!r}; expected one of 'error', 'drop'")
    if isinstance(outcomes, str):
        outcomes = [outcomes]
    if outcomes is not None:
        outcomes = list(outcomes)
        if not outcomes:
            raise ValueError("outcomes is empty; name at least one outcome")
        if len(set(outcomes)) != len(outcomes):
            raise ValueError(f"outcomes lists a name twice: {outcomes}")
    _need_columns(df, {"case": case, "session": session, "phase": phase})
    if len(df) == 0:
        raise ValueError("the table has no rows")
    wide = _reads_as_wide(df, case, session, outcome, value, outcomes)
    if not wide:
        if outcomes is not None and value not in df.columns:
            missing_cols = [o for o in outcomes if o not in df.columns]
            have = ", ".join(map(str, df.columns))
            raise ValueError(f"outcome column {missing_cols[0]!r} not found; the table has: {have}")
        if outcomes is None and not (outcome in df.columns and value in df.columns):
            have = ", ".join(map(str, df.columns))
            raise ValueError(f"no columns {outcome!r} and {value!r} of a long table; the table has: {have}. "
                             "For a wide table (one column per outcome) pass outcomes=[...]")
        _need_columns(df, {"outcome": outcome, "value": value})

    # Labels are compared as text, so "B " must be phase "B": strip them before anything
    # looks at them (and before the empty check, so that "  " counts as empty).
    cases_col = case_ids(df, case)
    phases = _clean_labels(df[phase])
    for role, col, vals in (("case", case, cases_col), ("session", session, df[session]),
                            ("phase", phase, phases)):
        na = vals.isna()
        if role != "session":
            na |= vals.map(lambda v: isinstance(v, str) and not v)
        if na.any():
            idx = na.idxmax()
            if role == "phase":
                where = _where(df, idx, case, session)
            elif role == "case":
                where = f"the row with session {show(df.loc[idx, session])} (row index {show(idx)})"
            else:
                where = f"a row of case {show(df.loc[idx, case])} (row index {show(idx)})"
            raise ValueError(f"column {col!r} ({role}) is empty at {where}")
    sessions = _numeric_sessions(df[session], session)
    phases = phases.astype(str)

    # Long frame with internal column names.
    if wide:
        parts = []
        for o in outcomes:
            parts.append(pd.DataFrame({"case": cases_col, "session": sessions, "phase": phases,
                                       "outcome": o,
                                       "value": _scores(df[o], f"outcome column {o!r}", df, case, session),
                                       "row": df.index}))
        long = pd.concat(parts, ignore_index=True)
    else:
        names = _clean_labels(df[outcome])
        empty = names.isna() | (names == "")
        if empty.any():
            idx = empty.idxmax()
            raise ValueError(f"column {outcome!r} (outcome) is empty at {_where(df, idx, case, session)}")
        names = names.astype(str)
        present = list(pd.unique(names))
        if outcomes is None:
            outcomes = present
        else:
            # Outcome labels are text, stripped like the column's.
            outcomes = [str(o).strip() for o in outcomes]
            for o in outcomes:
                if o not in present:
                    raise ValueError(f"outcome {o!r} not found in column {outcome!r}; "
                                     f"it holds: {', '.join(present)}")
        keep = names.isin(outcomes)
        long = pd.DataFrame({"case": cases_col, "session": sessions, "phase": phases, "outcome": names,
                             "value": _scores(df[value], f"column {value!r} (value)", df, case, session),
                             "row": df.index})[keep.to_numpy()]

    dup = long.duplicated(["case", "outcome", "session"], keep=False)
    if dup.any():
        r = long[dup].iloc[0]
        raise ValueError(f"case {show(r['case'])}, session {show(r['session'])} appears more than once "
                         f"for outcome {r['outcome']!r}")

    na = long["value"].isna()
    dropped = {}
    if na.any():
        if missing == "error":
            r = long[na].iloc[0]
            more = f" (and {int(na.sum()) - 1} more)" if na.sum() > 1 else ""
            raise ValueError(f"missing value for outcome {r['outcome']!r} at case {show(r['case'])}, "
                             f"session {show(r['session'])}{more}; pass missing='drop' "
                             "(command line: --missing drop) to leave it out")
        for (c, o), g in long[na].groupby(["case", "outcome"], sort=False):
            dropped[(c, o)] = list(zip(g["session"], g["phase"]))
        where = "; ".join(f"outcome {r.outcome!r}, case {show(r.case)}, session {show(r.session)}"
                          for r in long[na].head(3).itertuples())
        more = f"; and {int(na.sum()) - 3} more" if na.sum() > 3 else ""
        warnings.warn(f"dropped {int(na.sum())} missing value(s) ({where}{more}); the rows whose "
                      "phases held them say so in notes", UserWarning, stacklevel=3)
        long = long[~na]

    cases = list(pd.unique(cases_col))
    out = []
    # One stable sort by session for the whole table, then each series is a slice of
    # row positions: a sort and a frame per series cost ~1 ms each, which dominated
    # tables of thousands of cases.
    long = long.sort_values("session", kind="stable")
    sess_all = long["session"].to_numpy()
    phase_all = long["phase"].to_numpy(dtype=str)
    value_all = long["value"].to_numpy(dtype=np.float64)
    by = long.groupby(["outcome", "case"], sort=False).indices
    for o in outcomes:
        for c in cases:
            pos = by.get((o, c))
            drop = dropped.get((c, o), [])
            if pos is None:
                # No row for this case and outcome (or every value missing): an empty
                # series, so that callers report the gap instead of losing the case.
                out.append(CaseSeries(c, o, np.array([]), np.array([], dtype=str), np.array([]), drop))
                continue
            out.append(CaseSeries(c, o, sess_all[pos], phase_all[pos], value_all[pos], drop))
    return out
