"""Monte Carlo studies of single-case effect sizes.

>>> from scedsim.simulate import Study, run
>>> study = Study(design="A3 B4", model="normal_ar1", grid={"phi": [0.0], "level": [0.0]},
...               metrics=["nap", "ird"], n_cases=6, n_reps=2000, seed=1, estimands=False)
>>> res = run(study, quiet=True)
>>> m = res.measure("mean", metric="ird", scope="case")
>>> round(float(m.value.iloc[0]), 2)   # E[IRD] = 11/30 under no effect
0.37
"""
from .analysis import MetricSpec, analyze_block, case_summaries, metric_specs
from .design import Contrast, Design, parse_phases
from .estimands import analytic_limit, compute_estimands
from .measures import Rule
from .models import MODELS, BoundedScale, Model, NegBin, NormalAR1, Poisson, ar1_errors, get_model
from .runner import SimulationResult, Study, load_result, run

__all__ = ["Study", "run", "SimulationResult", "load_result", "Design", "Contrast", "parse_phases",
           "Model", "NormalAR1", "Poisson", "NegBin", "BoundedScale", "MODELS", "get_model", "ar1_errors",
           "MetricSpec", "metric_specs", "analyze_block", "case_summaries", "Rule", "analytic_limit",
           "compute_estimands"]
