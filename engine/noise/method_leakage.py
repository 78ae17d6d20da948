"""METHOD-NAME input noise ``method_leakage`` (the study's ``X_Method_Leakage``; its
generator calls it ``X_Method_Variable``): in a chosen method, one variable is renamed to
the method's own name, so the name the model must predict stands in the body as an
identifier. Shared machinery: :mod:`engine.noise.method_rewrite`."""
from __future__ import annotations

from typing import Sequence

from engine.data.methodname import MethodNameSample
from engine.data.pathcontexts import ParsedMethod, method_name
from engine.data.rename import method_variables, renamed
from engine.noise import NoiseResult
from engine.noise.method_rewrite import choose, rewrite_methods


def leak_name(parsed: ParsedMethod, lang: str, key: int) -> str | None:
    """The method's source with one of its variables renamed to the method's name.

    - The variables are the critical sample ratio's (:func:`engine.data.rename.method_variables`:
      parameters and locals, each resolved by scope through tree-sitter); ``key`` chooses
      one (:func:`~engine.noise.method_rewrite.choose`), in order of first occurrence.
    - Every occurrence of that variable, and nothing else, is renamed
      (:func:`engine.data.rename.renamed`): a field, a called method or a string of the
      same text is left alone. Java keeps methods and variables apart, so the program
      still compiles; the extractor masks only the method's own name and its recursive
      calls, so the leaked name reaches the model as a terminal (``getname``; code2seq's
      ``get|name``).
    - None (left as it is) for a method without variables, and for one that already has
      a variable of its name: it leaks already, and a second would clash with it.
    """
    name = method_name(parsed.method)
    variables = method_variables(parsed, lang)
    if not variables or any(var == name for var, _ in variables):
        return None
    _var, ranges = variables[choose(key, len(variables))]
    return renamed(parsed, ranges, name)


def method_leakage(samples: Sequence[MethodNameSample], level: float, seed: int) -> NoiseResult:
    """Copy ``samples`` with ``level`` % of the methods leaking their name
    (:func:`leak_name`; which methods: :func:`engine.noise.method_rewrite.rewrite_methods`).

    The study's rewrite (its unpublished ``NoiseHandler``) is not known; the kind's name in
    its generator, ``X_Method_Variable``, and in its results, method leakage, say what it
    does: the method's name becomes a variable of the body. byrote renames an existing
    variable rather than adding one, so the method's shape, and with it every path, stays
    as it was: only the leaked terminals differ from the original.
    """
    return rewrite_methods(samples, level, seed, "method_leakage", leak_name, "leaked")
