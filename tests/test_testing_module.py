"""scedsim.testing.check_metric passes correct implementations and catches wrong ones."""
import numpy as np

from scedsim.testing import check_metric


def good_pnd(a, b):
    return float(np.mean(np.asarray(b) > np.max(a)))


def wrong_pnd(a, b):  # counts ties with the maximum as nonoverlap
    return float(np.mean(np.asarray(b) >= np.max(a)))


def good_nap(a, b, improvement="increase"):
    a, b = np.asarray(a, float), np.asarray(b, float)
    if improvement == "decrease":
        a, b = -a, -b
    d = b[None, :] - a[:, None]
    return float(((d > 0) + 0.5 * (d == 0)).mean())


def nap_ignoring_ties(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float((b[None, :] > a[:, None]).mean())


def test_good_implementations_pass():
    r = check_metric(good_pnd, "pnd", max_examples=60)
    assert r.ok, str(r)
    r = check_metric(good_nap, "nap", max_examples=60, accepts_improvement=True)
    assert r.ok, str(r)
    assert r.checked["reference rows agreeing"] == "300/300"
    assert "decrease equals negated data" in r.checked


def test_wrong_implementations_fail():
    r = check_metric(wrong_pnd, "pnd", max_examples=60)
    assert not r.ok and any("reference" in f for f in r.failures)
    r = check_metric(nap_ignoring_ties, "nap", max_examples=60)
    assert not r.ok
    assert r.checked["swapping phases"] == "FAILED"
    assert "FAIL" in str(r)
