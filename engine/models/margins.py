"""The margin of a label (Pleiss et al. 2020, "Identifying Mislabeled Data using the Area
Under the Margin Ranking", §3): the label's logit minus the largest other logit. Its mean
over the training epochs is the area under the margin (engine.dynamics)."""
from __future__ import annotations

import torch


def label_margin(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Each row's logit of ``target`` minus its largest other logit ([B]); ``-inf`` logits
    (masked out) never count as the other."""
    own = logits.gather(1, target[:, None])[:, 0]
    others = logits.scatter(1, target[:, None], float("-inf"))
    return own - others.max(dim=-1).values
