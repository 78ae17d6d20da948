"""Only the optional C kernels: every other setting lives in pyproject.toml."""
from setuptools import Extension, setup

setup(
    ext_modules=[
        # optional: without a compiler the install still succeeds and
        # engine.clones.linekeys, engine.clones.automaton and engine.formats fall back to
        # their pure-Python paths.
        Extension("engine.clones._linekeys", ["engine/clones/_linekeys.c"], optional=True),
        Extension("engine.clones._automaton", ["engine/clones/_automaton.c"], optional=True),
        Extension("engine.formats._json_depth", ["engine/formats/_json_depth.c"], optional=True),
    ],
)
