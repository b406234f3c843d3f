"""The one version source: pyproject.toml reads it statically, the package re-exports it."""
__version__ = "0.1.0"
