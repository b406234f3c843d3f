"""Every example in a scedsim docstring runs and prints what it shows.

The modules are found by walking the package, so a new module's examples run
without an edit here.  README's examples run in test_readme.py.
"""
import doctest
import importlib
import inspect
import pkgutil

import pytest

import scedsim

FLAGS = doctest.NORMALIZE_WHITESPACE


def _modules():
    names = [scedsim.__name__]
    names += [m.name for m in pkgutil.walk_packages(scedsim.__path__, prefix="scedsim.")]
    return [importlib.import_module(n) for n in sorted(names)]


def _tests(module):
    # The finder keeps only objects defined in ``module``, so re-exports run once.
    return [t for t in doctest.DocTestFinder(exclude_empty=True).find(module) if t.examples]


WITH_EXAMPLES = [m for m in _modules() if _tests(m)]


def test_modules_with_examples_are_found():
    names = {m.__name__ for m in WITH_EXAMPLES}
    assert {"scedsim.effect_sizes.nonoverlap", "scedsim.inference.randomization", "scedsim.testing",
            "scedsim.tidy", "scedsim.simulate"} <= names


@pytest.mark.parametrize("module", WITH_EXAMPLES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in _tests(module):
        runner.run(test)
    res = runner.summarize(verbose=False)
    assert res.attempted > 0 and res.failed == 0, f"{res.failed} of {res.attempted} examples failed"


def _public_functions(package):
    mod = importlib.import_module(package)
    return [(package, n) for n in mod.__all__ if inspect.isfunction(getattr(mod, n))]


@pytest.mark.parametrize("package,name", _public_functions("scedsim.effect_sizes")
                         + _public_functions("scedsim.inference"))
def test_public_functions_have_references_and_examples(package, name):
    doc = inspect.getdoc(getattr(importlib.import_module(package), name))
    for section in ("References\n----------", "Examples\n--------"):
        assert section in doc, f"{package}.{name}: no {section.splitlines()[0]} section"
    assert ">>> " in doc.split("Examples\n--------", 1)[1], f"{package}.{name}: no doctest in Examples"
