"""Exact inference for short single-case series: permutation and randomization tests,
combining cases, and counting rules."""
from ._result import TestResult
from .alternating import atd_pvalues
from .between import between_cases, between_person_test, null_centre, permutation_centre
from .combine import combine_pvalues, k_of_n
from .permutation import MAX_EXACT, arrangements, permutation_test, rank_null_pvalues
from .randomization import (abab_test, admissible_starts, multiple_baseline_pvalues,
                            multiple_baseline_test, randomization_test)

__all__ = ["TestResult", "atd_pvalues", "permutation_test", "randomization_test", "abab_test", "multiple_baseline_test", "multiple_baseline_pvalues", "admissible_starts",
           "arrangements", "rank_null_pvalues", "combine_pvalues", "k_of_n", "MAX_EXACT",
           "between_person_test", "between_cases", "null_centre", "permutation_centre"]
