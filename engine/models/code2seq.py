"""The code2seq model (Alon et al., ICLR 2019; Rabin et al. §3.1.3) and its per-sample
outputs, after tech-srl/code2seq ``model.py`` (commit bf55ceb; its default ``config.py``,
``BEAM_WIDTH = 0``, as the study trained it) and the study's fork of it (CI-Memorization
``model/code2seq/model.py``, commit 6269332): :class:`Code2Seq`,
:func:`engine.sizes.code2seq_param_count` (Table 1's count) and :func:`code2seq_outputs` (loss,
decoded name and score, the one place they are defined).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.code2vec import fan_out_uniform, top_k_probability
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

    def forward(self, batch, greedy: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(teacher-forced logits, greedy logits), [B, steps, V] each; the greedy pass is
        made without gradients, and not at all (None) without ``greedy``."""
        ctx = self.contexts(batch)
        previous = torch.cat([torch.full_like(batch.target[:, :1], SOS_ID), batch.target[:, :-1]], dim=1)
        forced = self.decode(batch, ctx, previous)
        if not greedy:
            return forced, None
        with torch.no_grad():
            decoded = self.decode(batch, ctx.detach(), None)
        return forced, decoded


DROPPED_IDS = (0, 1)
"""The target ids ``Common.filter_impossible_names`` drops from a name: ``<PAD>`` (the end
word) and ``<UNK>``; its third, ``</S>``, is no target word (``<S>`` is one, and kept)."""


def code2seq_outputs(forced: torch.Tensor, greedy: torch.Tensor | None, batch, score: str = "top10",
                     decoding: str = "study", training: bool = False) -> dict[str, torch.Tensor]:
    """Per-sample outputs of one batch ([B] each, ``pred`` [B, steps]):

    - ``objective``: code2seq's training loss, the cross-entropy of each of the name's
      sub-tokens and of the end word (teacher-forced), summed (the batch's objective is
      its mean, code2seq's ``reduce_sum(crossent * mask) / batch_size``);
    - ``pred``: the predicted name's sub-token ids, 0 after them
      (:func:`engine.metrics.code2seq.decode_names` reads them);
    - ``loss`` and ``score``: the per-sample loss and predicted score (§4.3.1, §4.3.3);
    - ``correct``: the predicted ids equal the target's (``fitted``: up to the end word;
      ``study``: as lists or as sets, ``<UNK>`` dropped from the prediction and never equal
      in the target). The words decide in the end: each epoch's stored ``correct`` is
      :func:`engine.metrics.code2seq.code2seq_exact` of the names against their labels
      (:meth:`engine.tasks.code2seq.Code2SeqTask.epoch_metrics`);
    - ``target``: the target ids;
    - with ``decoding="study"``, on evaluation, ``alone``: the greedy ids up to the name's
      own end word (0 from it on), as if decoded without batch-mates: what the critical
      sample ratio compares.

    ``decoding="study"`` (the default) computes them as the study's fork of code2seq did
    (CI-Memorization ``model/code2seq/model.py``, ``update_correct_predictions``), from the
    logits the sample's words came from: greedy decoding on evaluation, teacher-forced
    (and their argmax) while training (``training``, the study's training logs).

    - The decoding of a batch stops once every name has emitted the end word (at most
      ``steps``; TensorFlow's ``dynamic_decode`` without ``impute_finished``), and the
      name is every word decoded until then, the words after its own end word included,
      with ``<PAD>`` and ``<UNK>`` dropped. Training decodes all ``steps``.
    - k is the number of those words; the score and the loss are averages over the
      first k steps (0 when k is 0):
      - the loss, of each step's cross-entropy against the true words and then the end
        word (0 past it);
      - the score, of each step's probability by ``score``: ``top10`` (the default, the
        fork's), the top word's probability under a softmax over the 10 largest logits
        (:func:`~engine.models.code2vec.top_k_probability`); ``mean``, under the softmax
        over every word.

    ``decoding="fitted"`` is byrote's earlier definition, fitted to the study's logged
    scores and losses (``data/logs/method_name/code2seq``) before the fork was found: the
    greedy name up to its end word, training or not; the loss, the mean teacher-forced
    cross-entropy of the true name's sub-tokens (§4.3.3's L_avg); the scores' steps, the
    name's words and its end word.

    With either, ``score="first"`` is the first step's probability, and
    ``score="sequence"`` the product over the scored steps. Computed in float32 whatever
    autocast is in force.
    """
    with torch.autocast(forced.device.type, enabled=False):
        target, length = batch.target, batch.target_len
        steps = torch.arange(target.shape[1], device=target.device)
        forced = forced.float()
        crossent = F.cross_entropy(forced.transpose(1, 2), target, reduction="none")  # [B, steps]
        within = steps[None, :] <= length[:, None]  # the true words and the end word
        objective = (crossent * within.float()).sum(-1)
        if decoding == "study":
            logits = forced if training else greedy.float()
            ids = logits.argmax(-1)
            if not training:
                crossent = F.cross_entropy(logits.transpose(1, 2), target, reduction="none")
                ended = (torch.cumsum((ids == 0).long(), dim=1) > 0).all(0)  # every name of the batch has ended
                stop = int(ended.long().argmax()) + 1 if bool(ended.any()) else ids.shape[1]
                ids = ids.masked_fill(steps[None, :] >= stop, 0)
            words = _kept(ids)
            count = words.sum(-1)
            scored = steps[None, :] < count[:, None]
            loss = (crossent * (within & scored).float()).sum(-1) / count.clamp(min=1).float()
            pred = _compacted(ids, words)
            true = target.masked_fill(target == DROPPED_IDS[1], -1)  # an unknown true word: never predicted
            correct = _same_name(pred, _compacted(true, true != DROPPED_IDS[0]))
        else:
            logits = greedy.float()
            words = steps[None, :] < length[:, None]
            loss = (crossent * words.float()).sum(-1) / length.clamp(min=1).float()
            ids = logits.argmax(-1)
            ended = torch.cumsum((ids == 0).long(), dim=1)
            scored = (ended == 0) | ((ended == 1) & (ids == 0))  # the words up to the end word
            pred = ids.masked_fill(ended > 0, 0)
            correct = (pred == target).all(-1)
        best = top_k_probability(logits) if score == "top10" else torch.softmax(logits, dim=-1).amax(-1)
        if score == "first":
            chosen = best[:, 0]
        elif score == "sequence":
            chosen = torch.where(scored, best, torch.ones_like(best)).prod(-1)
        else:
            chosen = (best * scored).sum(-1) / scored.sum(-1).clamp(min=1)
        out = {"objective": objective, "loss": loss, "pred": pred, "score": chosen, "correct": correct,
               "target": target}
        if decoding == "study" and not training:  # each name up to its own end word
            out["alone"] = ids.masked_fill(torch.cumsum((ids == 0).long(), dim=1) > 0, 0)
        return out


def _kept(ids: torch.Tensor) -> torch.Tensor:
    """Which ids are words of a name (:data:`DROPPED_IDS` dropped)."""
    return (ids != DROPPED_IDS[0]) & (ids != DROPPED_IDS[1])


def _compacted(ids: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    """Each row's kept ids in order, then 0s."""
    order = torch.sort((~kept).long(), dim=1, stable=True).indices
    return (ids * kept).gather(1, order)


def _same_name(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Compacted names (0 after their words) equal as lists or as sets."""
    p, t = pred != 0, true != 0
    same = pred[:, :, None] == true[:, None, :]
    in_true = ((same & t[:, None, :]).any(-1) | ~p).all(-1)
    in_pred = ((same & p[:, :, None]).any(1) | ~t).all(-1)
    return (pred == true).all(-1) | (in_true & in_pred)


def build_code2seq(cfg: dict, vocabs) -> Code2Seq:
    """A :class:`Code2Seq` sized by the preset ``cfg`` and the vocabularies
    (:class:`engine.models.c2s_batching.C2SVocabs`)."""
    return Code2Seq(*vocabs.sizes(), cfg)
