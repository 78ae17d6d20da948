"""The Transformer core (Vaswani et al. 2017) as the reference implementation builds it
(VHellendoorn/ICLR20-Great, models/great_transformer.py): :class:`Transformer`. GREAT
(:mod:`engine.models.great`) is this encoder with a relational attention; the hooks for
it are :meth:`SelfAttention.attend` and :meth:`Transformer.relations`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SelfAttention(nn.Module):
    def __init__(self, hidden_dim: int, num_heads: int):
        super().__init__()
        if hidden_dim % num_heads:
            raise ValueError("hidden_dim must be a multiple of num_heads")
        self.num_heads, self.head_dim = num_heads, hidden_dim // num_heads
        self.q = nn.Linear(hidden_dim, hidden_dim, bias=False)
        self.k = nn.Linear(hidden_dim, hidden_dim, bias=False)
        self.v = nn.Linear(hidden_dim, hidden_dim, bias=False)
        self.o = nn.Linear(hidden_dim, hidden_dim, bias=False)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, keep: torch.Tensor, relations) -> torch.Tensor:
        """softmax(q k^T / sqrt(d)) v over the keys that ``keep`` [B, 1, 1, T] allows."""
        return F.scaled_dot_product_attention(q, k, v, attn_mask=keep)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, relations=None) -> torch.Tensor:
        B, T, H = x.shape
        q, k, v = (proj(x).view(B, T, self.num_heads, self.head_dim).transpose(1, 2) for proj in (self.q, self.k, self.v))
        y = self.attend(q, k, v, mask[:, None, None, :], relations)  # [B, heads, T, head_dim]
        return self.o(y.transpose(1, 2).reshape(B, T, H))


class Block(nn.Module):
    def __init__(self, attention: SelfAttention, hidden_dim: int, ff_dim: int, dropout: float):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(hidden_dim), nn.LayerNorm(hidden_dim)
        self.attn = attention
        self.ff1, self.ff2 = nn.Linear(hidden_dim, ff_dim), nn.Linear(ff_dim, hidden_dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, relations=None) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x), mask, relations))
        return x + self.drop(self.ff2(self.drop(F.relu(self.ff1(self.ln2(x))))))


class Transformer(nn.Module):
    """``forward(x [B,T,H], mask [B,T], edges [E,4]) -> [B,T,H]``; ignores the edges.

    Pre-LN encoder blocks: per layer ``x += drop(attn(ln(x)))`` then
    ``x += drop(ff2(drop(relu(ff1(ln(x))))))``, a final layer norm; query/key/value/output
    projections without biases. Padding keys are masked out of the attention. Positions
    are added before the core (see :class:`engine.models.VarMisuseModel`).
    """

    def __init__(self, cfg: dict):
        super().__init__()
        H = cfg["hidden_dim"]
        self.blocks = nn.ModuleList(
            Block(self.make_attention(cfg), H, cfg["ff_dim"], cfg["dropout"]) for _ in range(cfg["num_layers"])
        )
        self.ln_f = nn.LayerNorm(H)

    def make_attention(self, cfg: dict) -> SelfAttention:
        return SelfAttention(cfg["hidden_dim"], cfg["num_heads"])

    def relations(self, edges: torch.Tensor, mask: torch.Tensor):
        """What every layer's attention needs from the edges, computed once; none here."""
        return None

    def forward(self, x: torch.Tensor, mask: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
        relations = self.relations(edges, mask)
        for block in self.blocks:
            x = block(x, mask, relations)
        return self.ln_f(x)
