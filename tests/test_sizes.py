"""engine.sizes: every closed-form parameter count equals the parameters of the model torch
builds from the same preset (the launch refuses a model whose parameters alone do not fit
the device's memory, so a wrong count is a wrong refusal or a missed one)."""
from __future__ import annotations

import pytest
import torch

from engine.presets import load_preset
from engine.sizes import (BYTES_PER_PARAMETER, encoder_param_count, gpt2_param_count, training_bytes,
                          varmisuse_param_count)


def n_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", ["transformer", "great", "ggnn"])
@pytest.mark.parametrize("preset", ["quick", "paper"])
def test_varmisuse_counts(name, preset):
    from engine.models import build_model

    cfg = load_preset(preset, "varmisuse")
    with torch.device("meta"):  # sized, not allocated
        model = build_model(name, cfg, cfg["vocab_size"])
    assert varmisuse_param_count(name, cfg) == n_parameters(model)
    bigger = {**cfg, "hidden_dim": 2 * cfg["hidden_dim"], "num_edge_types": 30}
    with torch.device("meta"):
        model = build_model(name, bigger, 777)
    assert varmisuse_param_count(name, bigger, 777) == n_parameters(model)


@pytest.mark.parametrize("preset", ["tiny", "quick", "small"])
def test_gpt2_counts(preset):
    from engine.lm.train import build_model

    cfg = load_preset(preset, "lm")
    with torch.device("meta"):
        model = build_model(cfg, cfg["vocab_size"], 0, 0)
    assert gpt2_param_count(cfg) == n_parameters(model)


def test_encoder_and_code_to_text_counts():
    from transformers import RobertaConfig, RobertaModel

    from engine.models.seq2seq import Seq2Seq

    config = RobertaConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=128, max_position_embeddings=130)
    encoder = RobertaModel(config)
    assert encoder_param_count(config.to_dict()) == n_parameters(encoder)
    seq2seq = Seq2Seq(encoder, {"decoder_layers": 2, "max_target_len": 8}, 0, 2)
    assert encoder_param_count(config.to_dict(), decoder_layers=2) == n_parameters(seq2seq)


def test_training_bytes_are_weights_gradients_and_two_moments():
    assert BYTES_PER_PARAMETER == 4 * 4 and training_bytes(1_000) == 16_000
