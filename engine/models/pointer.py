"""Vasic et al.'s two-pointer head and the per-sample outputs of the VarMisuse task
(Rabin et al. §3.2.3, §4.3.1-§4.3.3): :class:`PointerHead` and :func:`pointer_outputs`,
the one place the loss, predictions and scores are defined.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.margins import label_margin

LOG_REP_EPSILON = math.log(1e-9)
"""``log 1e-9``: the study's repair loss is ``-log(p + 1e-9)``."""


class PointerHead(nn.Module):
    """A linear layer from states [B, T, H] to (loc_logits, rep_logits), each [B, T]."""

    def __init__(self, hidden_dim: int):
        super().__init__()
        self.proj = nn.Linear(hidden_dim, 2)

    def forward(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """In float32 whatever autocast is in force: under bf16 the logits would come out
        rounded to 8 bits of mantissa (0.0625 apart between 8 and 16), 1.5 % of a
        localization loss in the median."""
        with torch.autocast(states.device.type, enabled=False):
            logits = self.proj(states.float())
        return logits[..., 0], logits[..., 1]


def pointer_outputs(loc_logits: torch.Tensor, rep_logits: torch.Tensor, batch,
                    score: str = "target") -> dict[str, torch.Tensor]:
    """Per-sample loss, predictions and scores ([B] each) of one batch:

    - two logits per token from the final states: localization and repair;
    - ``P_loc`` = softmax over the sample's real tokens; position 0 means "no bug";
    - ``P_rep`` = softmax over the repair candidates only; the repair probability of a
      variable is the mass summed over all its occurrences (§4.3.1);
    - per-sample loss (§4.3.3) ``L = L_loc + L_rep`` with
      ``L_loc = -log P_loc(error_location)`` (``error_location`` = 0 for bug-free samples)
      and ``L_rep = -log(sum_{i in targets} P_rep(i) + 1e-9)`` for buggy samples, 0 for
      bug-free ones: the reference's own loss (VHellendoorn/ICLR20-Great,
      running/meta_model.py, ``-tf.math.log(target_probs + 1e-9)``), so that a buggy
      sample without a reachable target costs ~20.7, not infinity (computed as
      ``-logaddexp(log p, log 1e-9)``: exact where p underflows);
    - localization is correct when ``argmax P_loc`` is the error location; repair is
      correct when the correct variable holds at least half of ``P_rep`` (§4.3.2), never
      for bug-free samples;
    - the "predicted score" (§4.3.1) is ``P_loc`` at the predicted location; for repair,
      with ``score="target"`` (the default, what the study logged for its Figure 5:
      CI-Memorization's GREAT fork logs the repair probability of the true target), the
      mass on the correct variable, ``rep_target_mass``; with ``score="predicted"`` (the
      paper's prose, "the score of the predicted" repair) the largest per-variable mass.
      0 for bug-free samples, which the repair metrics leave out (§4.3.1).

    - ``margin``: the localization logit of the error location minus the largest other
      (over the sample's real tokens; Pleiss et al. 2020's margin, engine.dynamics);
    - ``p_nobug``: ``P_loc`` of position 0, the model's probability that the sample has no
      bug (engine.kfold's label).

    Computed in float32 whatever autocast is in force, with log-softmax and logsumexp.
    """
    with torch.autocast(loc_logits.device.type, enabled=False):
        neg_inf = torch.tensor(float("-inf"), device=loc_logits.device)
        mask, cands, targets = batch.mask, batch.candidates, batch.targets
        has_bug, loc = batch.has_bug, batch.error_location

        loc_logp = F.log_softmax(torch.where(mask, loc_logits.float(), neg_inf), dim=-1)
        loc_loss = -loc_logp.gather(1, loc[:, None])[:, 0]
        loc_best, loc_pred = loc_logp.max(dim=-1)

        # Rows without any candidate (a function without variables) get a harmless
        # uniform distribution; they have no target and score 0.
        rep_masked = torch.where(cands, rep_logits.float(), neg_inf)
        rep_masked = torch.where(cands.any(-1, keepdim=True), rep_masked, torch.zeros_like(rep_masked))
        rep_logp = F.log_softmax(rep_masked, dim=-1)
        # logsumexp over the targets; rows without one get -inf, kept out of the graph
        # (the gradient of logsumexp over nothing but -inf is NaN).
        reach = targets & cands
        has_target = reach.any(-1)
        lse = torch.logsumexp(torch.where(reach, rep_logp, neg_inf).masked_fill(~has_target[:, None], 0.0), dim=-1)
        log_mass = torch.where(has_target, lse, neg_inf)
        rep_loss = torch.where(has_bug, -torch.logaddexp(log_mass, torch.full_like(log_mass, LOG_REP_EPSILON)),
                               torch.zeros_like(log_mass))
        # -log(mass + 1e-9) is never below 0 in GREAT's float32 (1 + 1e-9 rounds to 1); log1p
        # here gives -1e-9 once a target's mass is 1: that value lifted to 0, its gradient kept
        rep_loss = rep_loss + torch.relu(-rep_loss).detach()
        rep_target_mass = log_mass.exp()

        # Mass per variable name: slot 0 collects the non-candidates, slot v+1 variable v.
        probs = torch.where(cands, rep_logp.exp(), torch.zeros_like(rep_logp))
        slots = (batch.var_ids + 1).clamp(min=0)
        per_var = torch.zeros(probs.shape[0], probs.shape[1] + 1, device=probs.device).scatter_add_(1, slots, probs)
        chosen = rep_target_mass if score == "target" else per_var[:, 1:].max(dim=-1).values
        rep_score = torch.where(has_bug, chosen, torch.zeros_like(log_mass))

        return {
            "loss": loc_loss + rep_loss,
            "loc_loss": loc_loss,
            "rep_loss": rep_loss,
            "loc_pred": loc_pred,
            "loc_score": loc_best.exp(),
            "loc_correct": loc_pred == loc,
            "rep_target_mass": rep_target_mass,
            "rep_correct": has_bug & (rep_target_mass >= 0.5),
            "rep_score": rep_score,
            "has_bug": has_bug,
            "margin": label_margin(torch.where(mask, loc_logits.float(), neg_inf), loc),
            "p_nobug": loc_logp[:, 0].exp(),
        }


def pointer_objective(out: dict[str, torch.Tensor], objective: str = "study") -> torch.Tensor:
    """The training loss of a batch. ``study`` (the default): the mean localization loss
    over all samples plus the mean repair loss over the buggy ones, as the study's models
    trained (VHellendoorn/ICLR20-Great ``running/meta_model.py``: the repair loss is
    weighted by ``is_buggy`` and divided by their number). ``sum``: the mean over all
    samples of L_loc + L_rep (§4.3.3's per-sample loss; the repair term then weighs about
    half as much, by the share of buggy samples)."""
    if objective == "sum":
        return out["loss"].float().mean()
    buggy = out["has_bug"].float()
    return out["loc_loss"].float().mean() + (out["rep_loss"].float() * buggy).sum() / buggy.sum().clamp(min=1.0)
