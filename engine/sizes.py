"""How big a model a preset makes, without torch: closed-form parameter counts of every
model byrote trains, and the memory their training needs at least (weights, gradients and
Adam's two moments in fp32: 16 bytes a parameter). The launch checks them against the
device's memory before anything is queued (:func:`engine.launch.check_memory`); the
models' modules take their widths from here, and the tests hold every count to the
parameters of the model torch builds.
"""
from __future__ import annotations

import math

from engine.data.varmisuse import NUM_EDGE_TYPES

BYTES_PER_PARAMETER = 16  # fp32 weights, gradients, and Adam's first and second moments
CODE2SEQ_NODES = 512  # AST node types a code2seq vocabulary holds at most (a few hundred in Java and Python)


def _scaled(width: int, capacity: float) -> int:
    return max(1, math.floor(float(width) * float(capacity) + 0.5))


def code2vec_dims(cfg: dict) -> tuple[int, int, int]:
    """(d_tok, d_path, d_code) of a preset, after its ``capacity`` multiplier.

    ``capacity`` (the paper's threat-to-validity knob, §6: "changing the models'
    capacity") scales the three widths: d = round_half_up(width x capacity), at least 1.
    Embedding parameters grow linearly with it, W quadratically.
    """
    c = capacity_of(cfg)
    return (_scaled(cfg["token_embed_dim"], c), _scaled(cfg["path_embed_dim"], c), _scaled(cfg["code_dim"], c))


def capacity_of(cfg: dict) -> float:
    """A preset's ``capacity`` multiplier (1 when absent); anything but a positive finite
    number is an :class:`~engine.errors.InputError`."""
    c = float(cfg.get("capacity", 1.0))
    if not c > 0 or math.isinf(c):
        from engine.errors import InputError

        raise InputError(f"capacity must be a positive number, got {cfg.get('capacity')!r}")
    return c


def code2vec_param_count(n_tokens: int, n_paths: int, n_targets: int, cfg: dict) -> int:
    """The trainable parameters of :class:`Code2Vec` for these vocabulary sizes (closed form)."""
    dt, dp, dc = code2vec_dims(cfg)
    return n_tokens * dt + n_paths * dp + n_targets * dc + (2 * dt + dp) * dc + dc


def code2seq_dims(cfg: dict) -> tuple[int, int, int]:
    """(embedding, path RNN, decoder) widths of a preset after its ``capacity`` multiplier,
    as :func:`engine.models.code2vec.code2vec_dims` scales code2vec (the path RNN stays
    even: two directions of half its width)."""
    c = capacity_of(cfg)
    return (_scaled(cfg["embed_dim"], c), 2 * _scaled(cfg["rnn_dim"] // 2, c), _scaled(cfg["decoder_dim"], c))


def code2seq_param_count(n_subtokens: int, n_nodes: int, n_targets: int, cfg: dict, tf: bool = True) -> int:
    """The trainable parameters of :class:`Code2Seq` for these vocabulary sizes (closed
    form). ``tf=True`` counts as TensorFlow does (one bias per LSTM gate), the count
    Rabin et al. Table 1 reports; torch's LSTMs hold a second bias of the same size."""
    E, R, D = code2seq_dims(cfg)
    biases = 1 if tf else 2
    path_rnn = 2 * (4 * (R // 2) * (E + R // 2) + biases * 4 * (R // 2))
    decoder = 4 * D * (E + D + D) + biases * 4 * D
    return (E * (n_subtokens + n_nodes + n_targets) + path_rnn + (2 * E + R) * D + decoder
            + D * D + 2 * D * D + D * n_targets)


def varmisuse_param_count(model: str, cfg: dict, vocab_size: int | None = None) -> int:
    """The trainable parameters of a VarMisuse model (engine.models): the token embedding
    and pointer head, then per layer a Transformer's or GREAT's attention and feed-forward
    (GREAT adds its edge-type bias), or a GGNN's per-edge-type transforms and GRU cell."""
    H, V = int(cfg["hidden_dim"]), int(vocab_size or cfg["vocab_size"])
    count = V * H + 2 * H + 2  # embedding, pointer head (H x 2 and its bias)
    if model == "ggnn":
        steps = len(cfg["ggnn_time_steps"])
        edges = int(cfg.get("num_edge_types", NUM_EDGE_TYPES))
        residuals = {int(k): len(v) for k, v in cfg.get("ggnn_residuals", {}).items()}
        count += steps * edges * H * H + (steps * edges * H if cfg.get("ggnn_type_bias", True) else 0)
        for layer in range(steps):  # GRUCell(H (1 + residuals), H): 3 gates, two biases
            count += 3 * H * (H * (1 + residuals.get(layer, 0)) + H) + 6 * H
        return count
    F = int(cfg["ff_dim"])
    per_layer = 4 * H * H + 2 * H * F + F + H + 4 * H  # q, k, v, o; feed-forward; two layer norms
    if model == "great":  # the edge-type bias: an embedding per type, and its scalar
        head = H // int(cfg["num_heads"])
        per_layer += int(cfg.get("num_edge_types", NUM_EDGE_TYPES)) * head + head
    return count + int(cfg["num_layers"]) * per_layer + 2 * H


def gpt2_param_count(cfg: dict, vocab_size: int | None = None) -> int:
    """A GPT-2 of the ``lm`` preset (transformers' GPT2LMHeadModel, the output layer tied to
    the token embedding): token and position embeddings, per layer two layer norms, the
    attention's 3d x d projection and d x d output, a 4d feed-forward; a final norm."""
    d, L = int(cfg["n_embd"]), int(cfg["n_layer"])
    V = int(vocab_size or cfg["vocab_size"])
    return V * d + int(cfg["block_size"]) * d + L * (12 * d * d + 13 * d) + 2 * d


def encoder_param_count(config: dict, decoder_layers: int = 0, decoder_ff: int = 2048) -> int:
    """A RoBERTa-style encoder (CodeBERT) from its ``config.json``: embeddings (tokens,
    positions, token types, a norm), per layer attention, feed-forward and two norms, and
    the pooler (the size of the code-search head); with ``decoder_layers`` CodeXGLUE's
    code-to-text decoder over it (:class:`engine.models.seq2seq.Seq2Seq`: torch's decoder
    layers, self- and cross-attention, a ``decoder_ff`` feed-forward, torch's default, three
    norms; a dense layer; the output layer tied to the embeddings)."""
    h, inter = int(config["hidden_size"]), int(config.get("intermediate_size", 4 * int(config["hidden_size"])))
    V = int(config["vocab_size"])
    embeddings = (V + int(config.get("max_position_embeddings", 514)) + int(config.get("type_vocab_size", 1))) * h + 2 * h
    layer = 4 * (h * h + h) + 2 * h * inter + inter + h + 4 * h
    count = embeddings + int(config["num_hidden_layers"]) * layer + h * h + h
    if decoder_layers:
        count += decoder_layers * (8 * (h * h + h) + 2 * h * decoder_ff + decoder_ff + h + 6 * h) + h * h + h
    return count


def training_bytes(parameters: int) -> int:
    """The least memory training needs for ``parameters``: :data:`BYTES_PER_PARAMETER` each
    (activations come on top, and depend on the batch)."""
    return BYTES_PER_PARAMETER * parameters


def study_param_count(kind: str, model: str, cfg: dict) -> int | None:
    """The parameters of the model a study of preset kind ``kind`` (``engine.presets.preset_kind``)
    trains, from its preset: its vocabularies at their caps (a dataset's may be smaller),
    a CodeBERT-style encoder from its ``config.json`` when that is on disk (a local folder
    or the Hugging Face cache); None when it cannot be told."""
    if kind == "varmisuse":
        return varmisuse_param_count(model, cfg)
    if kind == "methodname":
        return code2vec_param_count(int(cfg["token_vocab_size"]), int(cfg["path_vocab_size"]),
                                    int(cfg["target_vocab_size"]), cfg)
    if kind == "code2seq":
        return code2seq_param_count(int(cfg["subtoken_vocab_size"]), CODE2SEQ_NODES, int(cfg["target_vocab_size"]), cfg,
                                    tf=False)
    if kind in ("codesearch", "codetotext"):
        config = _encoder_config(str(cfg.get("encoder", "")))
        if config is None:
            return None
        try:
            return encoder_param_count(config, int(cfg.get("decoder_layers", 0)) if kind == "codetotext" else 0)
        except (KeyError, TypeError, ValueError):
            return None
    return None


def _encoder_config(name: str) -> dict | None:
    """An encoder's ``config.json`` as a dict, from a local folder or the Hugging Face cache
    (never the network); None if neither has it or it cannot be read."""
    from pathlib import Path

    from engine.errors import InputError
    from engine.formats import load_json

    path = Path(name).expanduser() / "config.json"
    if not path.is_file():
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(name, "config.json")
        except Exception:  # noqa: BLE001  (an id the hub library refuses)
            return None
        if not isinstance(cached, str):
            return None
        path = Path(cached)
    try:
        data = load_json(path, "model config")[2]
    except InputError:
        return None
    return data if isinstance(data, dict) else None
