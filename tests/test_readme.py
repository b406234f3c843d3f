"""README shows real output: its Python examples run as doctests, and the demo block
is what `scedsim demo` prints.  Docstring examples run in test_doctests.py."""
import doctest
import io
import pathlib
import re
import tempfile
from contextlib import redirect_stdout

from scedsim import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_readme_examples():
    res = doctest.testfile(str(ROOT / "README.md"), module_relative=False,
                           optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 8 and res.failed == 0


def test_readme_demo_block_matches_the_demo(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```\n(scedsim demo: SYNTHETIC.*?)```", text, re.S).group(1)
    # The demo draws its figure in the temporary folder, which README shows as /tmp.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert cli.main(["demo"]) == 0
    assert (tmp_path / "scedsim_demo.png").read_bytes()[1:4] == b"PNG"
    norm = lambda s: [line.rstrip() for line in s.strip().splitlines()]  # noqa: E731
    assert norm(buf.getvalue().replace(str(tmp_path), "/tmp")) == norm(block)
