"""The code2seq model (Alon et al., ICLR 2019; Rabin et al. §3.1.3) and its per-sample
outputs, after tech-srl/code2seq ``model.py`` (commit bf55ceb; its default ``config.py``,
``BEAM_WIDTH = 0``, as the study trained it): :class:`Code2Seq`,
:func:`engine.sizes.code2seq_param_count` (Table 1's count) and :func:`code2seq_outputs` (loss,
decoded name and score, the one place they are defined).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.code2vec import fan_out_uniform
from engine.sizes import code2seq_dims

SOS_ID = 2  # code2seq's <S> in the target vocabulary (engine.models.c2s_batching)


class Code2Seq(nn.Module):
    """code2seq after ``model.py`` (commit bf55ceb):

    - encoder: a terminal is the sum of its sub-tokens' embeddings (``SUBTOKENS_VOCAB``,
      shared by start and end terminals); a path is its node embeddings (``NODES_VOCAB``)
      read by a bidirectional LSTM, the final states of both directions concatenated;
      a context is ``tanh(W [start; path; end])`` (no bias, ``decoder_dim`` wide), with
      dropout on ``[start; path; end]`` while training (``EMBEDDINGS_DROPOUT_KEEP_PROB``
      0.75). code2seq's LSTM dropout acts on the LSTM outputs, never on the final
      states the model reads, so it changes nothing and is left out;
    - decoder: one LSTM cell (``decoder_dim``) whose state starts at the mean of the
      sample's contexts (both h and c); its input is the previous sub-token's embedding
      (``TARGET_WORDS_VOCAB``) and the previous attention vector; Luong attention over
      the contexts (keys ``W_k c_i``, score ``h . key``); attention vector
      ``W_a [h; context]``; logits ``W_o (attention vector)``, with dropout before
      ``W_o`` while training (``RNN_DROPOUT_KEEP_PROB`` 0.5). code2seq pads every sample
      to ``max_contexts`` slots and does not mask them: an empty slot's context is 0, so
      each adds exp(0) to the attention's normaliser and nothing to its sum. That is
      kept exactly, without the padding (a column of log(empty slots));
    - initialisation: the embeddings uniform in ±sqrt(3 / width) (variance scaling,
      fan-out), the rest Glorot-uniform (TensorFlow's default; an LSTM's two matrices as
      TensorFlow's one kernel), biases 0 but the forget gates' 1 (TensorFlow adds its
      ``forget_bias`` 1.0 to them).
    """

    def __init__(self, n_subtokens: int, n_nodes: int, n_targets: int, cfg: dict):
        super().__init__()
        E, R, D = code2seq_dims(cfg)
        self.dims = (E, R, D)
        self.subtokens = nn.Embedding(n_subtokens, E)
        self.nodes = nn.Embedding(n_nodes, E)
        self.targets = nn.Embedding(n_targets, E)
        self.path_rnn = nn.LSTM(E, R // 2, batch_first=True, bidirectional=True)
        self.embed_dropout = nn.Dropout(float(cfg.get("dropout", 0.0)))
        self.combine = nn.Linear(2 * E + R, D, bias=False)
        self.decoder = nn.LSTMCell(E + D, D)
        self.keys = nn.Linear(D, D, bias=False)
        self.attend = nn.Linear(2 * D, D, bias=False)
        self.out_dropout = nn.Dropout(float(cfg.get("rnn_dropout", 0.0)))
        self.project = nn.Linear(D, n_targets, bias=False)
        self.steps = int(cfg["max_target_parts"]) + 1
        self.reset_parameters()

    def reset_parameters(self) -> None:
        fan_out_uniform(self.subtokens, self.nodes, self.targets)
        for layer in (self.combine, self.keys, self.attend, self.project):
            nn.init.xavier_uniform_(layer.weight)
        # an LSTM's kernel is one [input + hidden, 4 hidden] matrix in TensorFlow
        for rnn, weights in ((self.path_rnn, ("weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse",
                                               "weight_hh_l0_reverse")),
                             (self.decoder, ("weight_ih", "weight_hh"))):
            hidden = rnn.hidden_size
            fan = rnn.input_size + hidden + 4 * hidden
            for name in weights:
                nn.init.uniform_(getattr(rnn, name), -math.sqrt(6.0 / fan), math.sqrt(6.0 / fan))
            for name, p in rnn.named_parameters():
                if name.startswith("bias"):
                    nn.init.zeros_(p)
                if name.startswith("bias_ih"):  # TensorFlow's LSTMCell adds forget_bias=1.0
                    nn.init.ones_(p[hidden:2 * hidden])

    def contexts(self, batch) -> torch.Tensor:
        """[B, C, D] context vectors (0 at padding)."""
        mask = batch.mask
        starts = (self.subtokens(batch.starts) * (batch.starts != 0).unsqueeze(-1)).sum(-2)
        ends = (self.subtokens(batch.ends) * (batch.ends != 0).unsqueeze(-1)).sum(-2)
        E, R, D = self.dims
        paths = starts.new_zeros(mask.shape + (R,))
        if bool(mask.any()):
            lengths = batch.path_len[mask].clamp(min=1)
            packed = nn.utils.rnn.pack_padded_sequence(self.nodes(batch.nodes[mask]), lengths.cpu(),
                                                       batch_first=True, enforce_sorted=False)
            _, (h, _) = self.path_rnn(packed)  # h: [2, M, R/2]
            paths[mask] = torch.cat([h[0], h[1]], dim=-1).to(paths.dtype)
        ctx = torch.tanh(self.combine(self.embed_dropout(torch.cat([starts, paths, ends], dim=-1))))
        return ctx * mask.unsqueeze(-1)

    def decode(self, batch, ctx: torch.Tensor, inputs: torch.Tensor | None) -> torch.Tensor:
        """[B, steps, V] logits: teacher-forced on ``inputs`` ([B, steps] previous words),
        or greedy (each step fed the previous step's argmax) when ``inputs`` is None."""
        B, C, D = ctx.shape
        mask = batch.mask
        count = mask.sum(-1, keepdim=True).clamp(min=1).to(ctx.dtype)
        h = c = ctx.sum(1) / count
        attention = ctx.new_zeros(B, D)
        keys = self.keys(ctx)
        empty = torch.log(batch.pad_slots.to(ctx.dtype)).unsqueeze(-1)  # -inf when none
        word = torch.full((B,), SOS_ID, dtype=torch.long, device=ctx.device)
        logits = []
        for t in range(self.steps):
            x = self.targets(inputs[:, t] if inputs is not None else word)
            h, c = self.decoder(torch.cat([x, attention], dim=-1), (h, c))
            scores = torch.einsum("bd,bcd->bc", h, keys).masked_fill(~mask, float("-inf"))
            weights = torch.softmax(torch.cat([scores, empty], dim=-1).float(), dim=-1)[:, :C]
            context = torch.einsum("bc,bcd->bd", weights.to(ctx.dtype), ctx)
            attention = self.attend(torch.cat([h, context], dim=-1))
            step = self.project(self.out_dropout(attention))
            logits.append(step)
            word = step.argmax(-1)
        return torch.stack(logits, dim=1)

    def forward(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(teacher-forced logits, greedy logits), [B, steps, V] each. The greedy pass is
        made without gradients."""
        ctx = self.contexts(batch)
        previous = torch.cat([torch.full_like(batch.target[:, :1], SOS_ID), batch.target[:, :-1]], dim=1)
        forced = self.decode(batch, ctx, previous)
        with torch.no_grad():
            greedy = self.decode(batch, ctx.detach(), None)
        return forced, greedy


def code2seq_outputs(forced: torch.Tensor, greedy: torch.Tensor, batch, score: str = "mean") -> dict[str, torch.Tensor]:
    """Per-sample outputs of one batch ([B] each, ``pred`` [B, steps]):

    - ``objective``: code2seq's training loss, the cross-entropy of each of the name's
      sub-tokens and of the end word (teacher-forced), summed (the batch's objective is
      its mean, code2seq's ``reduce_sum(crossent * mask) / batch_size``);
    - ``loss``: the loss the study logged per sample, the mean cross-entropy of the
      name's sub-tokens without the end word (§4.3.3's L_avg);
    - ``pred``: the greedy-decoded sub-token ids, 0 from the end word on
      (:func:`engine.metrics.code2seq.decode_names` reads them);
    - ``score``, the predicted score (§4.3.1): ``mean`` (the default) is the mean
      probability of the decoded words, the end word included (§4.3.1's P_avg); ``first``
      the first word's probability; ``sequence`` the decoded name's probability, the
      product of the same. Fitted to the study's logged scores and losses
      (``data/logs/method_name/code2seq``), which rule out ``sequence``. The study's fork
      (CI-Memorization ``model/code2seq/model.py``, found since) defines them otherwise,
      and is not yet followed: a word's probability under a softmax over the 10 largest
      logits; the loss as the greedy logits' cross-entropy against the true words and the
      end word; both averaged over as many steps as the decoded name has words once the
      special words are dropped, the words after the end word included (its logged
      ``is|enabled|enabled``, loss 0.028, for a true ``is|enabled``: an end word, then
      ``enabled``);
    - ``correct``: the decoded ids equal the target's up to the end word;
    - ``target``: the target ids.

    Computed in float32 whatever autocast is in force.
    """
    with torch.autocast(forced.device.type, enabled=False):
        target, length = batch.target, batch.target_len
        steps = torch.arange(target.shape[1], device=target.device)
        crossent = F.cross_entropy(forced.float().transpose(1, 2), target, reduction="none")  # [B, steps]
        words = (steps[None, :] < length[:, None]).float()
        objective = (crossent * (steps[None, :] <= length[:, None]).float()).sum(-1)
        loss = (crossent * words).sum(-1) / length.clamp(min=1).float()
        probs = torch.softmax(greedy.float(), dim=-1)
        best, pred = probs.max(-1)  # [B, steps]
        ended = torch.cumsum((pred == 0).long(), dim=1)
        decoded = (ended == 0) | ((ended == 1) & (pred == 0))  # the words up to the end word
        pred = pred.masked_fill(ended > 0, 0)
        if score == "first":
            chosen = best[:, 0]
        elif score == "sequence":
            chosen = torch.where(decoded, best, torch.ones_like(best)).prod(-1)
        else:
            chosen = (best * decoded).sum(-1) / decoded.sum(-1).clamp(min=1)
        return {
            "objective": objective,
            "loss": loss,
            "pred": pred,
            "score": chosen,
            "correct": (pred == target).all(-1),
            "target": target,
        }


def build_code2seq(cfg: dict, vocabs) -> Code2Seq:
    """A :class:`Code2Seq` sized by the preset ``cfg`` and the vocabularies
    (:class:`engine.models.c2s_batching.C2SVocabs`)."""
    return Code2Seq(*vocabs.sizes(), cfg)
