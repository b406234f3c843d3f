"""Shared by the app's tests: the Flask requirement and reading numbers back from a page."""
import html
import importlib
import os
import re

import pytest

PVD_A = "20 20 26 25 22 23"
PVD_B = "28 25 24 27 30 30 29"
BURNOUT_DECREASE = ["EE", "DP"]


def need(module: str, extra: str):
    """Import ``module`` or skip, naming the extra; under CI (which installs every extra) fail."""
    try:
        return importlib.import_module(module)
    except ImportError:
        msg = f'needs {module}, the {extra} extra: pip install -e ".[test,dask,excel,app]"'
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def effect_rows(page: str) -> dict:
    """{label: (estimate, se, ci)} texts of the single-series table."""
    out = {}
    for label, body in re.findall(r'<tr data-metric="([^"]+)">(.*?)</tr>', page, re.S):
        cells = dict(re.findall(r'<td class="(estimate|se|ci|pge)">(.*?)</td>', body, re.S))
        if cells:
            out[html.unescape(label)] = (cells["estimate"], cells["se"], cells["ci"], cells["pge"])
    return out


def null_table(page: str, label: str) -> list:
    """[(value text, count text), ...] of one metric's null distribution."""
    start = page.index(f'<div class="null" data-metric="{html.escape(label)}">')
    block = page[start:page.index("</div>", start)]
    return [(html.unescape(v), c) for v, c in
            re.findall(r'<td>([^<]*)</td><td class="count">([^<]*)</td>', block)]


def code_block(page: str, ident: str) -> str:
    m = re.search(rf'<pre id="{ident}">(.*?)</pre>', page, re.S)
    assert m, ident
    return html.unescape(m.group(1))


def errors(page: str) -> list:
    return [html.unescape(e) for e in re.findall(r'<p class="error" role="alert">(.*?)</p>', page, re.S)]


def fmt(x: float) -> str:
    return "" if x != x else f"{x:.4f}"
