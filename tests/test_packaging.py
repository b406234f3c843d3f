"""Packaging facts: the licence, one version source, the extras, and CI doing what README says."""
import ast
import pathlib
import re
import sys

import scedsim

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_license_is_mit():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "the scedsim developers" in text
    assert PYPROJECT["project"]["license"] == {"text": "MIT"}


def test_one_version_source():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "scedsim._version.__version__"}
    # A literal assignment, so that setuptools reads it without importing scedsim.
    init = ast.parse((ROOT / "src" / "scedsim" / "_version.py").read_text())
    literal = [node.value.value for node in init.body if isinstance(node, ast.Assign)
               and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["__version__"]]
    assert literal == [scedsim.__version__]
    assert re.fullmatch(r"\d+\.\d+\.\d+", scedsim.__version__)


def test_extras():
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert set(extras) == {"test", "dask", "excel", "app"}
    assert any(dep.startswith("openpyxl") for dep in extras["excel"])
    assert any(dep.startswith("flask") for dep in extras["app"])
    assert any(dep.startswith("selenium") for dep in extras["test"])


def test_ci_runs_readme_commands_verbatim():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)\n```", section, re.S)
    assert len(commands) == 2 and '".[test,dask,excel,app]"' in commands[0]
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    for command in commands:
        assert command in ci, command
