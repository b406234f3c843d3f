"""README shows real output: its Python examples run as doctests, and the demo block
is what `scedsim demo` prints."""
import doctest
import importlib
import io
import pathlib
import re
from contextlib import redirect_stdout

import scedsim
from scedsim import cli, testing

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_readme_examples():
    res = doctest.testfile(str(ROOT / "README.md"), module_relative=False,
                           optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 8 and res.failed == 0


def test_readme_demo_block_matches_the_demo(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```\n(scedsim demo: SYNTHETIC.*?)```", text, re.S).group(1)
    monkeypatch.chdir(tmp_path)   # the demo writes its figure here
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert cli.main(["demo"]) == 0
    norm = lambda s: [line.rstrip() for line in s.strip().splitlines()]  # noqa: E731
    assert norm(buf.getvalue()) == norm(block)


def test_docstring_examples():
    for mod in (importlib.import_module("scedsim.effect_sizes.nonoverlap"),
                importlib.import_module("scedsim.effect_sizes.trend"),
                importlib.import_module("scedsim.effect_sizes.parametric"), testing,
                scedsim.datasets, scedsim.tidy):
        res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert res.failed == 0, mod.__name__
