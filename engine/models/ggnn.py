"""The gated graph neural network core (Li et al. 2016) as the reference builds it
(VHellendoorn/ICLR20-Great, models/ggnn.py and config.yml): :class:`GGNN`, whose docstring
gives the layers, steps and residuals.
"""
from __future__ import annotations

import torch
from torch import nn

from engine.presets import ggnn_layers_problem


class GGNN(nn.Module):
    """``forward(x [B,T,H], mask [B,T], edges [E,4]) -> [B,T,H]``.

    After the reference's models/ggnn.py and config.yml:

    - ``time_steps`` lists the distinct layers and how often each repeats: ``[3, 1, 3, 1]``
      is four layers run 3, 1, 3 and 1 times (8 propagation steps);
    - one step of layer ``l``: every edge ``src -> dst`` of type ``t`` sends
      ``W[l, t] h_src + b[l, t]``; a node sums what it receives; a GRU cell of layer ``l``
      updates the node from that sum; dropout follows each step;
    - ``residuals`` ``{1: [0], 3: [0, 1]}``: layer 1's GRU also reads the input states
      (index 0) and layer 3's the input states and layer 0's output (index 1),
      concatenated before the messages;
    - both edge directions have their own types (22 here; 24 in the reference config).

    Messages travel over the sparse ``[E, 4]`` edge list with ``index_add``; no adjacency
    matrix is built.
    """

    def __init__(self, cfg: dict):
        super().__init__()
        H = cfg["hidden_dim"]
        problem = ggnn_layers_problem(cfg)  # checked when the study was made; a config from elsewhere here
        if problem:
            raise ValueError(problem)
        self.time_steps = [int(n) for n in cfg["ggnn_time_steps"]]
        self.residuals = {int(k): [int(i) for i in v] for k, v in cfg.get("ggnn_residuals", {}).items()}
        self.num_edge_types = cfg["num_edge_types"]
        L = len(self.time_steps)
        self.type_weight = nn.Parameter(torch.randn(L, self.num_edge_types, H, H) * H**-0.5)
        self.type_bias = nn.Parameter(torch.randn(L, self.num_edge_types, H) * H**-0.5) if cfg.get("ggnn_type_bias", True) else None
        self.grus = nn.ModuleList(nn.GRUCell(H * (1 + len(self.residuals.get(l, []))), H) for l in range(L))
        self.drop = nn.Dropout(cfg["dropout"])

    def forward(self, x: torch.Tensor, mask: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
        B, T, H = x.shape
        # Group the edges by type once: node indices into the flattened [B*T] states.
        b, src, dst, edge_type = edges.unbind(1)
        order = torch.argsort(edge_type)
        sizes = torch.bincount(edge_type, minlength=self.num_edge_types).tolist()
        groups = [(t, s, d) for t, (s, d) in enumerate(zip((b * T + src)[order].split(sizes), (b * T + dst)[order].split(sizes)))
                  if sizes[t]]

        layer_states = [x.reshape(B * T, H)]
        for layer, steps in enumerate(self.time_steps):
            for step in range(steps):
                h = layer_states[-1]
                messages = torch.zeros(B * T, H, device=x.device)  # summed in float32
                for t, s, d in groups:
                    m = h[s] @ self.type_weight[layer, t]
                    if self.type_bias is not None:
                        m = m + self.type_bias[layer, t]
                    messages.index_add_(0, d, m.float())
                inputs = [layer_states[i].float() for i in self.residuals.get(layer, [])]
                inputs = torch.cat(inputs + [messages], dim=-1)
                new = self.drop(self.grus[layer](inputs, h))
                if step == 0:
                    layer_states.append(new)
                else:
                    layer_states[-1] = new
        return layer_states[-1].view(B, T, H)
