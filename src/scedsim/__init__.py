"""scedsim: effect sizes and Monte Carlo simulation for single-case experimental designs."""
from ._numba import get_num_threads, set_num_threads
from ._results import EffectSize, TauBCResult
from .effect_sizes import ird, lrr, nap, pand, pem, pet, pnd, score_ci, smd, tau, tau_bc, tau_u

__version__ = "0.1.0"

__all__ = ["nap", "tau", "ird", "pnd", "pem", "pand", "pet", "tau_u", "tau_bc", "smd", "lrr",
           "score_ci", "EffectSize", "TauBCResult", "get_num_threads", "set_num_threads", "__version__"]
