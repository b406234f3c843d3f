"""Effect sizes for single-case AB comparisons (validation, direction, results)."""
from ._score import score_ci
from .nonoverlap import ird, nap, pand, pem, pet, pnd, pooled_ird, tau
from .parametric import lrr, smd
from .trend import tau_bc, tau_u

__all__ = ["nap", "tau", "ird", "pnd", "pem", "pand", "pet", "tau_u", "tau_bc", "smd", "lrr", "score_ci", "pooled_ird"]
