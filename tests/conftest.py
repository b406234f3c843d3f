import importlib
import os

import pytest
from hypothesis import HealthCheck, settings

# CI gets more examples, and no example database (each run starts fresh); a local run stays quick.
settings.register_profile("ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          database=None)
settings.register_profile("dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def openpyxl():
    """The Excel reader of the ``excel`` extra.  CI installs that extra, so there a
    missing openpyxl fails the test instead of skipping it silently."""
    try:
        return importlib.import_module("openpyxl")
    except ImportError:
        msg = 'needs openpyxl, the excel extra: pip install -e ".[test,dask,excel,app]"'
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
