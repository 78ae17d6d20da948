"""Causal language models: :mod:`~engine.lm.hub` loads any one by id or path,
:mod:`~engine.lm.train` trains a small GPT-2 to memorize a corpus (the demo's model)."""
