"""README tables of the seven-point study, second edition, built from results/summary.csv.

Run from the project root to print them:

    python simulations/seven_point/readme_tables.py

tests/simulate/test_seven_point_second.py checks that README.md contains every table
exactly as printed here from the committed results, so no README number can drift from
them.  Values are shown to three decimals without the leading zero; a rejection rate
outside Bradley's liberal band (.025-.075 at alpha = .05) is marked with an asterisk in
the Type I error tables.
"""
from __future__ import annotations

import pathlib
import sys

import pandas as pd

HERE = pathlib.Path(__file__).resolve().parent
THREATS = ("shock", "shock_sd", "shock_at", "select", "effect_sd", "scale", "slope", "trend")

# Rules (label, metric, scope, rule) for the analyses of six people.
SIX = [
    ("t-test on the six mean differences", "p_t", "replication", "p_t <= 0.05"),
    ("sign-flip test on the six mean differences", "p_sf", "replication", "p_sf <= 0.05"),
    ("multilevel model (HPLM), level", "p_hplm", "replication", "p_hplm <= 0.05"),
    ("Edgington, exact NAP p-values", "p_perm_nap", "edgington", "p_perm_nap <= 0.05"),
    ("Edgington, PLM p-values", "p_plm", "edgington", "p_plm <= 0.05"),
    ("≥ 2 of 6 exact NAP tests", "count(p_perm_nap <= 0.05)", "count", "count(p_perm_nap <= 0.05) >= 2"),
    ("≥ 2 of 6 CDC", "count(p_cdc < 0.05)", "count", "count(p_cdc < 0.05) >= 2"),
    ("≥ 2 of 6 DC", "count(p_dc < 0.05)", "count", "count(p_dc < 0.05) >= 2"),
    ("≥ 2 of 6 PLM", "count(p_plm <= 0.05)", "count", "count(p_plm <= 0.05) >= 2"),
    ("≥ 4 of 6 IRD ≥ .70", "count(ird_large (ird >= 0.70))", "count", "count(ird_large) >= 4"),
]
ONE = [
    ("exact NAP test (= NAP ≥ .93)", "p_perm_nap", "case", "p_perm_nap <= 0.05"),
    ("randomization test, p ≤ .25", "p_rand_mean_diff", "case", "p_rand_mean_diff <= 0.25"),
    ("CDC", "p_cdc", "case", "p_cdc < 0.05"),
    ("DC", "p_dc", "case", "p_dc < 0.05"),
    ("PLM level, OLS t-test", "p_plm", "case", "p_plm <= 0.05"),
    ("NAP ≥ .66 (\"medium\")", "nap", "case", "nap_medium_or_strong (nap >= 0.66)"),
    ("IRD ≥ .70 (\"large\")", "ird", "case", "ird_large (ird >= 0.70)"),
]


def load(path=None) -> pd.DataFrame:
    s = pd.read_csv(path or HERE / "results/summary.csv", low_memory=False)
    # Only what the tables read: contrast A:B (or none), normal and bounded models.
    return s[(s.contrast.isna() | (s.contrast == "A:B")) & s.model.isin(["normal_ar1", "bounded_scale"])]


def fmt(v: float, digits: int = 3) -> str:
    s = f"{v:.{digits}f}"
    return s.replace("0.", ".", 1) if s.startswith(("0.", "-0.")) else s


def _cond(s: pd.DataFrame, design="A3 B4", n_cases=6, phi=0.0, level=0.0, model="normal_ar1", center=None,
          **threat) -> pd.Series:
    m = (s.model == model) & (s.design == design) & (s.n_cases == n_cases) & (s.phi == phi) \
        & (s.level == level)
    for col in THREATS:
        want = threat.get(col)
        if col not in s:
            assert want is None, col
            continue
        m &= s[col].isna() if want is None else (s[col] == want)
    if center is not None:
        m &= s.center == center
    return m


_SUBSETS: dict = {}


def _subset(s: pd.DataFrame, cond: dict) -> pd.DataFrame:
    """The rows of one condition, cached per summary frame (the tables ask for hundreds of cells)."""
    key = (id(s), tuple(sorted(cond.items())))
    if key not in _SUBSETS:
        _SUBSETS[key] = s[_cond(s, **cond)]
    return _SUBSETS[key]


def value(s, cond: dict, metric, scope, measure, rule=None, estimand=None, contrast="A:B", at=None):
    s = _subset(s, cond)
    m = (s.metric == metric) & (s.scope == scope) & (s.measure == measure)
    if at is not None:
        m &= (s["at"] - at).abs() < 1e-9
    if rule is not None:
        m &= s.rule == rule
    if estimand is not None:
        m &= s.estimand == estimand
    if scope != "replication" or "contrast" in s:
        m &= (s.contrast == contrast) | s.contrast.isna()
    row = s[m]
    if len(row) != 1:
        raise KeyError(f"{len(row)} rows for {cond} {metric} {scope} {measure} {rule} {estimand}")
    return float(row.value.iloc[0]), float(row.mcse.iloc[0])


def rate_table(s, rules, columns, band=False) -> str:
    """Rows: rules; columns: (header, condition)."""
    head = "| analysis | " + " | ".join(h for h, _ in columns) + " |"
    lines = [head, "|---" * (len(columns) + 1) + "|"]
    for label, metric, scope, rule in rules:
        cells = []
        for _, cond in columns:
            v, _ = value(s, cond, metric, scope, "rejection_rate", rule)
            mark = "*" if band and not 0.025 <= v <= 0.075 else ""
            cells.append(fmt(v) + mark)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_type1(s) -> str:
    cols = [(f"φ = {fmt(p, 1) if p else '0'}", dict(phi=p)) for p in (-0.3, 0.0, 0.3, 0.6)]
    return rate_table(s, SIX + [(f"one person: {lab}", *rest) for lab, *rest in ONE], cols, band=True)


def table_power(s) -> str:
    cols = [(f"d = {fmt(d, 1) if d < 1 else int(d)}, φ = 0", dict(level=d)) for d in (0.5, 1.0, 2.0)]
    cols += [(f"d = {fmt(d, 1) if d < 1 else int(d)}, φ = .6", dict(level=d, phi=0.6)) for d in (0.5, 1.0, 2.0)]
    cols += [(f"d = {fmt(d, 1) if d < 1 else int(d)} innov., φ = .6", dict(level=d, phi=0.6, scale="innovation"))
             for d in (0.5, 1.0, 2.0)]
    return rate_table(s, SIX + [("one person: exact NAP test", *ONE[0][1:]), ("one person: PLM", *ONE[4][1:])],
                      cols)


def _threat_cols(phi):
    return [("shock .5", dict(phi=phi, shock=0.5)), ("shock 1", dict(phi=phi, shock=1.0)),
            ("random shock, SD 1", dict(phi=phi, shock_sd=1.0)), ("enrolled ≥ 1 SD worse", dict(phi=phi, select=1.0)),
            ("practice .05", dict(phi=phi, trend=0.05)), ("practice .1", dict(phi=phi, trend=0.1)),
            ("practice .2", dict(phi=phi, trend=0.2)), ("effect SD .5", dict(phi=phi, effect_sd=0.5)),
            ("effect SD 1", dict(phi=phi, effect_sd=1.0))]


def table_threats(s, phi) -> str:
    return rate_table(s, SIX + [("one person: exact NAP test", *ONE[0][1:]), ("one person: PLM", *ONE[4][1:])],
                      _threat_cols(phi), band=True)


def table_mb(s) -> str:
    mb = "MB n_time=7 starts=3-5"
    cols = [("A3 B4, shock 1 at occasion 4", dict(shock=1.0)),
            ("MB, shock 1 at occasion 4", dict(design=mb, shock=1.0, shock_at=4.0)),
            ("MB, no shock, d = 0", dict(design=mb)),
            ("MB, d = 1", dict(design=mb, level=1.0)),
            ("A3 B4, d = 1", dict(level=1.0))]
    return rate_table(s, SIX, cols)


def table_effects_vary(s) -> str:
    cols = [("d = 1, effect SD 0", dict(level=1.0)), ("d = 1, effect SD .5", dict(level=1.0, effect_sd=0.5)),
            ("d = 1, effect SD 1", dict(level=1.0, effect_sd=1.0)),
            ("d = 1, enrolled ≥ 1 SD worse", dict(level=1.0, select=1.0))]
    return rate_table(s, SIX, cols)


def table_designs(s) -> str:
    cols = []
    for phi in (0.0, 0.6):
        for lab, kw in (("A3 B4, 6", {}), ("A3 B4, 12", dict(n_cases=12)), ("A5 B5, 6", dict(design="A5 B5")),
                        ("A7 B7, 6", dict(design="A7 B7"))):
            for d in (0.0, 0.5):
                cols.append((f"{lab}, d = {fmt(d, 1) if d else 0}, φ = {fmt(phi, 1) if phi else 0}",
                             dict(phi=phi, level=d, **kw)))
    rules = [SIX[0], SIX[1], SIX[2], SIX[3], SIX[5]]
    heads = ["t-test", "sign-flip test", "HPLM", "Edgington, exact NAP p", "≥ 2 people with exact NAP p ≤ .05"]
    # Transposed: designs as rows read better.
    lines = ["| design, people, effect, φ | " + " | ".join(heads) + " |",
             "|---" * (len(rules) + 1) + "|"]
    for head, cond in cols:
        cells = [fmt(value(s, cond, m, sc, "rejection_rate", r)[0]) for _, m, sc, r in rules]
        lines.append(f"| {head} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_means(s) -> str:
    metrics = [("robust IRD", "ird"), ("PND", "pnd"), ("PAND", "pand"), ("NAP", "nap"), ("Tau", "tau"),
               ("Tau-U", "tau_u"), ("Tau-BC, always corrected", "tau_bc"),
               ("Tau-BC, pretest first (Tarlow)", "tau_bc_pre"), ("PEM", "pem")]
    lines = ["| metric | d = 0: mean / limit | d = 1: mean / limit | d = 2: mean / limit | d = 1, φ = .6 | "
             "d = 1 innov., φ = .6 |", "|---|---|---|---|---|---|"]
    for lab, met in metrics:
        cells = []
        for d in (0.0, 1.0, 2.0):
            mean = value(s, dict(level=d), met, "case", "mean")[0]
            lim = value(s, dict(level=d), met, "case", "estimand", estimand="limit")[0]
            cells.append(f"{fmt(mean)} / {fmt(lim)}")
        cells.append(fmt(value(s, dict(level=1.0, phi=0.6), met, "case", "mean")[0]))
        cells.append(fmt(value(s, dict(level=1.0, phi=0.6, scale="innovation"), met, "case", "mean")[0]))
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_smd(s) -> str:
    lines = ["| condition | SMD mean (MCSE) | median error (MCSE) | median absolute error (MCSE) | "
             "IQR of the error (MCSE) |", "|---|---|---|---|---|"]
    for lab, cond in (("d = 0, φ = 0", {}), ("d = 1, φ = 0", dict(level=1.0)), ("d = 2, φ = 0", dict(level=2.0)),
                      ("d = 1, φ = .6", dict(level=1.0, phi=0.6))):
        cells = []
        v, e = value(s, cond, "smd", "case", "mean")
        cells.append(f"{fmt(v, 2)} ({fmt(e, 2)})")
        for meas in ("median_error", "median_abs_error", "error_iqr"):
            v, e = value(s, cond, "smd", "case", meas, estimand="limit")
            cells.append(f"{fmt(v, 2)} ({fmt(e, 3)})")
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_coverage(s) -> str:
    conds = [("d = 0, φ = 0", {}), ("d = 1, φ = 0", dict(level=1.0)), ("d = 2, φ = 0", dict(level=2.0)),
             ("d = 0, φ = .6", dict(phi=0.6)), ("d = 1, φ = .6", dict(level=1.0, phi=0.6))]
    lines = ["| 95% interval | " + " | ".join(c for c, _ in conds) + " |", "|---" * (len(conds) + 1) + "|"]
    for lab, met in (("NAP (Newcombe)", "nap"), ("Tau", "tau"), ("SMD (Wald)", "smd"),
                     ("Tau-BC, always corrected", "tau_bc"), ("Tau-BC, pretest first", "tau_bc_pre")):
        cells = [fmt(value(s, c, met, "case", "coverage", estimand="limit")[0]) for _, c in conds]
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_bcsmd(_s=None, path=None) -> str:
    """From results_bcsmd: the design-comparable SMD of the six (HPS and REML), its
    target, bias and the coverage of its 95% interval, with MCSEs."""
    s = load(path or HERE / "results_bcsmd/summary.csv")
    mb = "MB n_time=7 starts=3-5"
    conds = [("d = 0, φ = 0", {}), ("d = 1, φ = 0", dict(level=1.0)), ("d = 2, φ = 0", dict(level=2.0)),
             ("d = 1, φ = −.3", dict(level=1.0, phi=-0.3)), ("d = 1, φ = .3", dict(level=1.0, phi=0.3)),
             ("d = 0, φ = .6", dict(phi=0.6)), ("d = 1, φ = .6", dict(level=1.0, phi=0.6)),
             ("d = 2, φ = .6", dict(level=2.0, phi=0.6)),
             ("d = 1 innov., φ = .6", dict(level=1.0, phi=0.6, scale="innovation")),
             ("d = 1, effect SD .5", dict(level=1.0, effect_sd=0.5)),
             ("d = 1, starts 3–5 (MB)", dict(level=1.0, design=mb))]
    lines = ["| six people, A3 B4 | true δ | HPS bias | HPS coverage | HPS CI width | REML bias | REML coverage "
             "| REML CI width |", "|---" * 8 + "|"]
    for lab, cond in conds:
        cells = [fmt(value(s, cond, "bcsmd_hps", "replication", "estimand", estimand="limit")[0])]
        for met in ("bcsmd_hps", "bcsmd_reml"):
            for meas, est in (("bias", "limit"), ("coverage", "limit"), ("ci_width", None)):
                v, e = value(s, cond, met, "replication", meas, estimand=est)
                cells.append(f"{fmt(v)} ({fmt(e)})")
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_split(s) -> str:
    designs = ("A2 B5", "A3 B4", "A4 B3")
    lines = ["| metric | " + " | ".join(f"{d}, d = {lv}" for lv in (0, 1) for d in designs) + " |",
             "|---" * 7 + "|"]
    for lab, met in (("IRD", "ird"), ("PND", "pnd"), ("PAND", "pand"), ("NAP", "nap"), ("Tau", "tau")):
        cells = [fmt(value(s, dict(design=d, level=float(lv)), met, "case", "mean")[0])
                 for lv in (0, 1) for d in designs]
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_bounded(s) -> str:
    lines = ["| | NAP d = 1 | NAP d = 2 | IRD d = 2 | PND d = 2 | exact test power, d = 2 | "
             "exact test Type I error |", "|---|---|---|---|---|---|---|"]
    for lab, c in (("mid-range (centre 27)", 27.0), ("near the floor (centre 8)", 8.0)):
        b = dict(model="bounded_scale", center=c)
        cells = [fmt(value(s, {**b, "level": 1.0}, "nap", "case", "mean")[0]),
                 fmt(value(s, {**b, "level": 2.0}, "nap", "case", "mean")[0]),
                 fmt(value(s, {**b, "level": 2.0}, "ird", "case", "mean")[0]),
                 fmt(value(s, {**b, "level": 2.0}, "pnd", "case", "mean")[0]),
                 fmt(value(s, {**b, "level": 2.0}, *ONE[0][1:3], "rejection_rate", ONE[0][3])[0]),
                 fmt(value(s, b, *ONE[0][1:3], "rejection_rate", ONE[0][3])[0])]
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_trend(s) -> str:
    mets = [("NAP", "nap"), ("Tau", "tau"), ("Tau-U", "tau_u"), ("Tau-BC, always corrected", "tau_bc"),
            ("Tau-BC, pretest first", "tau_bc_pre"), ("IRD", "ird")]
    lines = ["| baseline trend .3 SD per occasion, no effect | " + " | ".join(m for m, _ in mets) + " |",
             "|---" * (len(mets) + 1) + "|"]
    for lab, phi in (("mean, φ = 0", 0.0), ("mean, φ = .6", 0.6)):
        cells = [fmt(value(s, dict(phi=phi, trend=0.3), m, "case", "mean")[0]) for _, m in mets]
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_ird71(s) -> str:
    at = 17 / 24
    conds = [("d = 0, φ = 0", {}), ("d = 0, φ = .6", dict(phi=0.6)), ("d = .5, φ = 0", dict(level=0.5)),
             ("d = 1, φ = 0", dict(level=1.0)), ("d = 2, φ = 0", dict(level=2.0))]
    lines = ["| | " + " | ".join(c for c, _ in conds) + " |", "|---" * (len(conds) + 1) + "|"]
    for lab, v in (("P(IRD = 17/24 ≈ .71)", 17 / 24), ("P(IRD = 1)", 1.0)):
        cells = [fmt(value(s, c, "ird", "case", "probability", at=v)[0]) for _, c in conds]
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_facts(s) -> str:
    c0, c6 = {}, dict(phi=0.6)
    rows = [("E[robust IRD]", "11/30 = .3667", [value(s, c0, "ird", "case", "mean")], 4),
            ("P(IRD = 1/8), P(IRD = 5/12)", "14/35 = .400 each",
             [value(s, c0, "ird", "case", "probability", at=v) for v in (1 / 8, 5 / 12)], 3),
            ("P(IRD = 17/24), P(IRD = 1)", "6/35 = .171, 1/35 = .029",
             [value(s, c0, "ird", "case", "probability", at=v) for v in (17 / 24, 1.0)], 3),
            ("E[PND], E[NAP]", "1/4, 1/2",
             [value(s, c0, "pnd", "case", "mean"), value(s, c0, "nap", "case", "mean")], 3),
            ("Type I error of the exact NAP test at .05", "1/35 = .0286",
             [value(s, c0, "p_perm_nap", "case", "rejection_rate", "p_perm_nap <= 0.05")], 4),
            ("t-test on the six mean differences, size at φ = 0 / .6", "1/20 = .0500 at every φ",
             [value(s, c, "p_t", "replication", "rejection_rate", "p_t <= 0.05") for c in (c0, c6)], 4),
            ("sign-flip test on the six mean differences, size at φ = 0 / .6", "3/64 = .0469 at every φ",
             [value(s, c, "p_sf", "replication", "rejection_rate", "p_sf <= 0.05") for c in (c0, c6)], 4)]
    lines = ["| fact (six people, φ = 0 unless stated) | exact | simulated (MCSE) |", "|---|---|---|"]
    for lab, exact, vals, dg in rows:
        lines.append(f"| {lab} | {exact} | " + ", ".join(f"{fmt(v, dg)} ({fmt(e, dg)})" for v, e in vals) + " |")
    return "\n".join(lines)


def table_mbtest(_s=None, path=None) -> str:
    """From results_mb: the multiple-baseline randomization test against the t-test."""
    m = pd.read_csv(path or HERE / "results_mb/summary.csv", low_memory=False)
    m = m[m.measure == "rejection_rate"]
    cols = [("d = 0", 0.0, None), ("d = .5", 0.5, None), ("d = 1", 1.0, None), ("shock .5, d = 0", 0.0, 0.5),
            ("shock 1, d = 0", 0.0, 1.0)]
    lines = ["| staggered multiple baseline, six people | "
             + " | ".join(f"{h}, φ = {fmt(p, 1) if p else 0}" for p in (0.0, 0.6) for h, _, _ in cols) + " |",
             "|---" * 11 + "|"]
    for lab, met in (("multiple-baseline randomization test", "p_mbd"), ("t-test on the six mean differences", "p_t")):
        cells = []
        for phi in (0.0, 0.6):
            for _, lv, sh in cols:
                r = m[(m.metric == met) & (m.phi == phi) & (m.level == lv)
                      & (m.shock.isna() if sh is None else m.shock == sh)]
                assert len(r) == 1
                cells.append(fmt(float(r.value.iloc[0])))
        lines.append(f"| {lab} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


TABLES = {"facts": table_facts, "type1": table_type1, "power": table_power, "threats_phi0": lambda s: table_threats(s, 0.0),
          "threats_phi06": lambda s: table_threats(s, 0.6), "mb": table_mb, "effects_vary": table_effects_vary,
          "designs": table_designs, "means": table_means, "smd": table_smd, "coverage": table_coverage,
          "bcsmd": table_bcsmd,
          "split": table_split, "bounded": table_bounded, "trend": table_trend, "ird71": table_ird71,
          "mbtest": table_mbtest}


def all_tables(s=None) -> dict[str, str]:
    s = load() if s is None else s
    return {k: f(s) for k, f in TABLES.items()}


if __name__ == "__main__":
    s = load(sys.argv[1] if len(sys.argv) > 1 else None)
    for k, t in all_tables(s).items():
        print(f"<!-- table: {k} -->\n{t}\n")
