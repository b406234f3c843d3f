"""Small example datasets in the long layout :func:`scedsim.effect_sizes` reads.

* :func:`load_burnout_example`: **SYNTHETIC** data.  They only mirror the
  structure of a burnout intervention study (six therapists, seven occasions,
  phases A, B and a follow-up C, five questionnaire subscales); the values come
  from a documented, seeded generator (:func:`make_burnout_example`), not from
  any participant.  The real study's data are not public.
* :func:`load_pvd2011`: the published example series of Parker, Vannest &
  Davis (2011), with known effect sizes.

Both come as CSV files inside the package (``scedsim/data/``) and load as a
pandas DataFrame with one row per case x session x outcome and the columns
``case, session, phase, outcome, value``, which are the default column names of
:func:`scedsim.effect_sizes` and :func:`scedsim.plotting.sced_plot`.
"""
from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

__all__ = ["load_burnout_example", "make_burnout_example", "load_pvd2011", "BURNOUT_SCALES",
           "BURNOUT_SEED"]

#: Seed of the shipped burnout example; ``make_burnout_example()`` with it
#: reproduces ``scedsim/data/burnout_example.csv`` exactly.
BURNOUT_SEED = 2024

#: The five synthetic scales: name -> (lowest score, highest score, direction of
#: improvement, range of the participants' baseline levels, SD of the occasion
#: noise, mean and SD of the participants' intervention effects in score points,
#: signed so that positive is improvement).
BURNOUT_SCALES = {
    "EE": (0, 54, "decrease", (24.0, 40.0), 3.5, (7.0, 4.0)),        # emotional exhaustion
    "DP": (0, 30, "decrease", (8.0, 16.0), 2.5, (3.0, 2.0)),         # depersonalization
    "PA": (0, 48, "increase", (24.0, 36.0), 3.0, (4.0, 3.0)),        # personal accomplishment
    "Climate": (12, 60, "increase", (30.0, 42.0), 3.0, (2.0, 2.5)),  # organizational climate
    "QoL": (4, 20, "increase", (10.0, 14.0), 1.2, (1.5, 1.0)),       # quality of life, psychological domain
}

_PHASES = ("A", "A", "A", "B", "B", "C", "C")   # occasions 1-7
_N_CASES = 6
_PHI = 0.3   # lag-1 autocorrelation of the occasion noise


def _read_csv(name: str) -> pd.DataFrame:
    with resources.as_file(resources.files("scedsim").joinpath(f"data/{name}")) as p:
        return pd.read_csv(p, dtype={"case": str, "phase": str, "outcome": str})


def make_burnout_example(seed: int = BURNOUT_SEED) -> pd.DataFrame:
    """Generate the SYNTHETIC burnout example (the procedure behind the shipped CSV).

    The values are made up.  They only mirror the structure of a burnout
    intervention study with six therapists; the real study's data are not
    public and nothing here is derived from them.

    For each of six participants ``P1``..``P6`` and each scale in
    :data:`BURNOUT_SCALES`, in that order, one ``numpy.random.default_rng(seed)``
    stream draws, in turn:

    1. the baseline level, uniform over the scale's baseline range;
    2. the intervention effect in phase B, normal with the scale's mean and SD
       (in score points, positive = improvement);
    3. the share of that effect kept at follow-up C, uniform on [0.5, 1.2];
    4. seven AR(1) noise terms with lag-1 correlation 0.3 and the scale's SD
       (the first drawn from the stationary distribution).

    The score at occasion t is level + effect (occasions 4-5) or kept share x
    effect (occasions 6-7), moved in the scale's direction of improvement, plus
    the noise; it is rounded to the nearest integer and clipped to the scale's
    range.  Rounding makes ties common, as in real questionnaire scores.

    Parameters
    ----------
    seed : int
        Seed of the generator.  The default reproduces the shipped CSV.

    Returns
    -------
    pandas.DataFrame
        Columns ``case`` (str), ``session`` (int, occasion 1-7), ``phase``
        ("A" at 1-3, "B" at 4-5, "C" follow-up at 6-7), ``outcome`` (the scale)
        and ``value`` (int); 6 x 7 x 5 = 210 rows.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(1, _N_CASES + 1):
        for scale, (lo, hi, direction, (lev_lo, lev_hi), sd, (eff_mean, eff_sd)) in BURNOUT_SCALES.items():
            level = rng.uniform(lev_lo, lev_hi)
            effect = rng.normal(eff_mean, eff_sd)
            kept = rng.uniform(0.5, 1.2)
            e = rng.normal(0.0, sd, size=len(_PHASES))
            noise = np.empty(len(_PHASES))
            noise[0] = e[0]
            for t in range(1, len(_PHASES)):
                # Innovations scaled so the series keeps SD `sd` (stationary AR(1)).
                noise[t] = _PHI * noise[t - 1] + np.sqrt(1.0 - _PHI ** 2) * e[t]
            sign = -1.0 if direction == "decrease" else 1.0
            for t, ph in enumerate(_PHASES):
                shift = {"A": 0.0, "B": effect, "C": kept * effect}[ph]
                y = int(np.clip(np.rint(level + sign * shift + noise[t]), lo, hi))
                rows.append((f"P{p}", t + 1, ph, scale, y))
    df = pd.DataFrame(rows, columns=["case", "session", "phase", "outcome", "value"])
    return df.astype({"session": "int64", "value": "int64"})


def load_burnout_example() -> pd.DataFrame:
    """A SYNTHETIC example shaped like a burnout intervention study.

    The data are synthetic: they only mirror the structure of the motivating
    study (six therapists, seven occasions, several questionnaire subscales);
    the real data are not public.  The values were produced by
    :func:`make_burnout_example` with ``seed=2024`` (a test checks that the
    shipped file equals its output).

    Design: six participants ``P1``..``P6``; occasions 1-3 are the baseline
    (phase ``"A"``), 4-5 the intervention (``"B"``) and 6-7 a follow-up
    (``"C"``).  Scales (``outcome``):

    =========  ======  ===========================================  ===========
    outcome    range   meaning                                      improvement
    =========  ======  ===========================================  ===========
    EE         0-54    emotional exhaustion                         decrease
    DP         0-30    depersonalization                            decrease
    PA         0-48    personal accomplishment                      increase
    Climate    12-60   organizational climate (12 items x 1-5)      increase
    QoL        4-20    quality of life, psychological domain        increase
    =========  ======  ===========================================  ===========

    Returns
    -------
    pandas.DataFrame
        Long layout: ``case, session, phase, outcome, value`` (integer scores).

    Examples
    --------
    >>> from scedsim.datasets import load_burnout_example
    >>> df = load_burnout_example()
    >>> df.shape
    (210, 5)
    >>> sorted(df["outcome"].unique())
    ['Climate', 'DP', 'EE', 'PA', 'QoL']
    """
    return _read_csv("burnout_example.csv")


def load_pvd2011() -> pd.DataFrame:
    """The worked AB example of Parker, Vannest & Davis (2011).

    A = 20 20 26 25 22 23 (sessions 1-6), B = 28 25 24 27 30 30 29 (sessions
    7-13); one case ``"PVD2011"``, outcome ``"score"``, higher is better.  Its
    known values (Parker, R. I., Vannest, K. J., & Davis, J. L. (2011). Effect
    size in single-case research: A review of nine nonoverlap techniques.
    *Behavior Modification*, 35(4), 303-322; also SingleCaseES's tests):
    NAP = 38.5/42, Tau = 35/42, PND = 5/7, PAND = 11/13, PEM = 1,
    robust IRD = 6/7 - 1/6 and Tau-U (Parker's A vs B - trend A) = 31/42.

    Returns
    -------
    pandas.DataFrame
        Long layout: ``case, session, phase, outcome, value``.

    Examples
    --------
    >>> import scedsim as ss
    >>> t = ss.effect_sizes(ss.datasets.load_pvd2011(), metrics=["nap", "pnd", "ird"])
    >>> [round(x, 4) for x in t["estimate"]]
    [0.9167, 0.7143, 0.6905]
    """
    return _read_csv("pvd2011.csv")
