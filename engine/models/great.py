"""GREAT (Hellendoorn et al. 2020): a Transformer whose attention is biased by edges, as
in the reference implementation (VHellendoorn/ICLR20-Great, models/great_transformer.py
and running/meta_model.py); :class:`RelationalAttention` defines the bias.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from engine.models.transformer import SelfAttention, Transformer


class RelationalAttention(SelfAttention):
    """Self-attention biased by the edges, per layer:

    - each edge type ``t`` gets an embedding ``e_t`` in the per-head dimension, projected
      to a scalar ``b_t = w . e_t`` (one embedding table and one projection per layer,
      shared by the heads; ``num_edge_types`` rows, 24 in the reference config);
    - an edge ``src -> dst`` biases the attention of query ``dst`` to key ``src``: the
      score becomes ``(q + b_t 1) . k = q . k + b_t sum(k)``, scaled by ``1/sqrt(d_head)``
      like the rest; several edges between the same pair add up (the reference scatters
      them with ``scatter_nd``, which sums);
    - with the reverse edges of :mod:`engine.models.batching` the bias flows both ways.

    The bias is added at the edges only (``E x heads`` entries), not through a dense
    ``[B, T, T]`` matrix. The per-layer edge parameters are what separates GREAT's
    26,225,538 parameters from the Transformer's 26,215,938 in Rabin et al. Table 1
    (6 layers x (24 x 64 + 64)).
    """

    def __init__(self, hidden_dim: int, num_heads: int, num_edge_types: int):
        super().__init__(hidden_dim, num_heads)
        self.edge_emb = nn.Embedding(num_edge_types, self.head_dim)
        self.edge_scalar = nn.Linear(self.head_dim, 1, bias=False)

    def attend(self, q, k, v, keep, relations):
        B, h, T, d = q.shape
        b, src, dst, edge_type = relations
        scale = 1.0 / math.sqrt(d)
        scores = (q @ k.transpose(-2, -1)) * scale  # [B, h, T_query, T_key]
        per_type = self.edge_scalar(self.edge_emb.weight)[:, 0]  # b_t, [num_edge_types]
        key_sum = k.sum(-1) * scale  # [B, h, T]
        bias = per_type[edge_type][:, None] * key_sum[b, :, src]  # [E, h]
        heads = torch.arange(h, device=q.device)
        at = (((b[:, None] * h + heads) * T + dst[:, None]) * T + src[:, None]).reshape(-1)
        scores.view(-1).index_add_(0, at, bias.reshape(-1).to(scores.dtype))
        scores.masked_fill_(~keep, float("-inf"))
        return torch.softmax(scores, dim=-1) @ v


class GREAT(Transformer):
    def make_attention(self, cfg: dict) -> SelfAttention:
        return RelationalAttention(cfg["hidden_dim"], cfg["num_heads"], cfg["num_edge_types"])

    def relations(self, edges: torch.Tensor, mask: torch.Tensor):
        return edges.unbind(1)  # (batch, src, dst, type): query = dst, key = src
