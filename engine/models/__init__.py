"""The VarMisuse models (Rabin et al. §3.2.3): a sub-token embedding, a core (Transformer,
GGNN or GREAT) and Vasic et al.'s two pointers (:mod:`engine.models.pointer`), as in the
reference (VHellendoorn/ICLR20-Great, running/meta_model.py). ``build_model(name, cfg,
vocab_size)`` is the entry point; ``cfg`` is a preset (:mod:`engine.presets`).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from engine.errors import InputError
from engine.data.varmisuse import NUM_EDGE_TYPES
from engine.models.pointer import PointerHead
from engine.presets import CHOICES, VARMISUSE_BEFORE

MODELS = ("transformer", "ggnn", "great")


def sinusoid_positions(T: int, H: int, device=None) -> torch.Tensor:
    """[T, H] sinusoidal position encodings (Vaswani et al. 2017): one frequency per pair
    of dimensions, sin on the even one and cos on the odd one."""
    pos = torch.arange(T, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, H, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / H))
    enc = torch.zeros(T, H, device=device)
    enc[:, 0::2] = torch.sin(pos * freq)
    enc[:, 1::2] = torch.cos(pos * freq)[:, : H // 2]
    return enc


def reference_positions(T: int, H: int, device=None) -> torch.Tensor:
    """[T, H] the reference's position encodings (ICLR20-Great models/util.py
    ``positional_encoding``): entry (p, i) is p / 10000^(2i/H), every dimension with a
    frequency of its own, then sin at the even places of the row-major [T, H] table and
    cos at the odd ones (computed in float64, stored in float32, as numpy and TF do)."""
    pos = torch.arange(T, dtype=torch.float64)[:, None]
    dim = torch.arange(H, dtype=torch.float64)
    angle = pos / torch.pow(10000.0, 2 * dim / H)
    even = (pos.long() * H + dim.long()) % 2 == 0
    return torch.where(even, torch.sin(angle), torch.cos(angle)).to(device=device, dtype=torch.float32)


class VarMisuseModel(nn.Module):
    """Rabin et al. §3.2.3: every model (1) embeds the tokens, (2) refines the embeddings
    with a "core" (Transformer, GGNN or GREAT) and (3) points into the tokens twice, for
    the bug location and for the repair.

    ``port="study"`` (the default) is the reference's ``call`` (VHellendoorn/ICLR20-Great
    running/meta_model.py, as CI-Memorization's copy runs it): a token's embedding is the
    sum of its sub-tokens' embeddings over the ``max_subtokens`` slots (a padded slot adds
    nothing) divided by that number (``reduce_mean`` over the axis padded to 10, whatever
    a batch's longest token), and :func:`reference_positions` are added before every core
    (the GGNN included: "no bug" is position 0, which a model cannot find without knowing
    positions); :func:`~engine.models.build_model` also gives it the reference's initial
    weights (:mod:`engine.models.keras_port`). ``"torch"`` is byrote's earlier reading, kept
    for the studies made with it: the mean over the real sub-tokens, scaled by
    sqrt(hidden_dim), plus :func:`sinusoid_positions` (after the reference's
    ``embed_inputs``, which nothing calls), from PyTorch's initial weights.
    """

    def __init__(self, core: nn.Module, vocab_size: int, hidden_dim: int, port: str = "study",
                 max_subtokens: int = 10):
        super().__init__()
        if port not in CHOICES["varmisuse"]["port"]:
            raise InputError(f"setting port must be one of {', '.join(CHOICES['varmisuse']['port'])}, not {port!r}")
        self.hidden_dim, self.port, self.max_subtokens = hidden_dim, port, int(max_subtokens)
        self.embed = nn.Embedding(vocab_size, hidden_dim, padding_idx=0)
        nn.init.normal_(self.embed.weight, std=hidden_dim**-0.5)
        with torch.no_grad():
            self.embed.weight[0].zero_()
        self.core = core
        self.head = PointerHead(hidden_dim)

    def embed_tokens(self, subtokens: torch.Tensor) -> torch.Tensor:
        """[B, T, S] sub-token ids (0 pads; S at most ``max_subtokens``) -> [B, T, H], as
        ``port`` says."""
        real = (subtokens > 0).unsqueeze(-1)
        summed = (self.embed(subtokens) * real).sum(2)
        if self.port == "study":
            return summed / self.max_subtokens
        return summed / real.sum(2).clamp(min=1) * math.sqrt(self.hidden_dim)

    def forward(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(loc_logits, rep_logits), each [B, T]; padding is masked by the pointer head."""
        B, T = batch.mask.shape
        positions = reference_positions if self.port == "study" else sinusoid_positions
        x = self.embed_tokens(batch.subtokens)
        x = x + positions(T, self.hidden_dim, x.device)
        states = self.core(x, batch.mask, batch.edges)
        return self.head(states)


def build_model(name: str, cfg: dict, vocab_size: int) -> VarMisuseModel:
    """The model ``name`` (one of :data:`MODELS`) sized by the preset ``cfg``."""
    if name not in MODELS:
        raise InputError(f"unknown model {name!r} (choose from {', '.join(MODELS)})")
    cfg = {"num_edge_types": NUM_EDGE_TYPES, **cfg}
    if cfg["num_edge_types"] < NUM_EDGE_TYPES:
        raise InputError(f"num_edge_types must be at least {NUM_EDGE_TYPES} (11 edge types, both directions)")
    if name == "transformer":
        from engine.models.transformer import Transformer as core_cls
    elif name == "ggnn":
        from engine.models.ggnn import GGNN as core_cls
    else:
        from engine.models.great import GREAT as core_cls
    port = cfg.get("port", VARMISUSE_BEFORE["port"])
    model = VarMisuseModel(core_cls(cfg), vocab_size, cfg["hidden_dim"], port, cfg.get("max_subtokens", 10))
    if port == "study":
        from engine.models.keras_port import reference_init

        reference_init(model)
    return model
