"""Only the optional C kernel: every other setting lives in pyproject.toml."""
from setuptools import Extension, setup

setup(
    ext_modules=[
        # optional: without a compiler the install still succeeds and
        # engine.clones.linekeys falls back to its pure-Python path.
        Extension("engine.clones._linekeys", ["engine/clones/_linekeys.c"], optional=True),
    ],
)
