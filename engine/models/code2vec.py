"""The code2vec model (Alon et al. 2019, POPL; Rabin et al. §3.1.3) and its per-sample
outputs, after tech-srl/code2vec tensorflow_model.py (commit 04e57f63),
``_build_tf_training_graph`` and ``_calculate_weighted_contexts``: :class:`Code2Vec` (the
network), :func:`engine.sizes.code2vec_dims` (the capacity knob) and :func:`code2vec_outputs` (loss,
prediction and score, the one place they are defined).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.margins import label_margin

from engine.sizes import code2vec_dims


def fan_out_uniform(*embeddings: nn.Embedding) -> None:
    """code2vec's and code2seq's embedding initialisation: uniform in ±sqrt(3 / width)
    (TensorFlow's ``variance_scaling(1.0, 'fan_out', 'uniform')``)."""
    for emb in embeddings:
        bound = math.sqrt(3.0 / emb.embedding_dim)
        nn.init.uniform_(emb.weight, -bound, bound)


class Code2Vec(nn.Module):
    """code2vec after tensorflow_model.py (commit 04e57f63):

    - a path-context (start terminal, path, end terminal) is embedded as
      ``[E_tok(start); E_path(path); E_tok(end)]`` (the two terminals share one embedding,
      ``WORDS_VOCAB``), size 2 d_tok + d_path;
    - dropout on that vector while training (``DROPOUT_KEEP_RATE`` 0.75 -> ``dropout``
      0.25);
    - a fully connected layer without bias and a tanh: ``c_i = tanh(W [..])``, W of shape
      (2 d_tok + d_path) x d_code (``TRANSFORM``);
    - attention: weight ``a . c_i`` with a learned vector a (``ATTENTION``), softmax over
      the sample's valid contexts only (code2vec adds log(mask)); the code vector is
      ``v = sum_i alpha_i c_i``;
    - logits ``v . E_target(y)`` for every name y of the target vocabulary
      (``TARGET_WORDS_VOCAB``, d_code wide), and a softmax over the whole vocabulary.

    Initialisation as code2vec's: the three embedding tables uniform in ±sqrt(3 / width)
    (``variance_scaling(1.0, 'fan_out', 'uniform')``), W and a Glorot-uniform
    (TensorFlow's default). No bias anywhere, so the parameter count is
    ``V_tok d_tok + V_path d_path + V_target d_code + (2 d_tok + d_path) d_code + d_code``
    (:func:`engine.sizes.code2vec_param_count`).
    """

    def __init__(self, n_tokens: int, n_paths: int, n_targets: int, cfg: dict, legal=None):
        super().__init__()
        dt, dp, dc = code2vec_dims(cfg)
        self.dims = (dt, dp, dc)
        self.tokens = nn.Embedding(n_tokens, dt)
        self.paths = nn.Embedding(n_paths, dp)
        self.targets = nn.Embedding(n_targets, dc)
        self.dropout = nn.Dropout(float(cfg.get("dropout", 0.0)))
        self.transform = nn.Linear(2 * dt + dp, dc, bias=False)
        self.attention = nn.Parameter(torch.empty(dc))
        if legal is None:
            legal = torch.ones(n_targets, dtype=torch.bool)
            legal[0] = False  # OOV
        legal = torch.as_tensor(legal, dtype=torch.bool)
        if legal.shape != (n_targets,):
            raise ValueError(f"legal mask has shape {tuple(legal.shape)}, expected ({n_targets},)")
        self.register_buffer("legal", legal, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        fan_out_uniform(self.tokens, self.paths, self.targets)
        nn.init.xavier_uniform_(self.transform.weight)
        bound = math.sqrt(6.0 / (self.attention.numel() + 1))  # Glorot on a (d_code, 1) matrix
        nn.init.uniform_(self.attention, -bound, bound)

    def code_vectors(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """([B, d_code] code vectors, [B, C] attention weights)."""
        ctx = torch.cat([self.tokens(batch.starts), self.paths(batch.paths), self.tokens(batch.ends)], dim=-1)
        ctx = torch.tanh(self.transform(self.dropout(ctx)))  # [B, C, d_code]
        weights = ctx.float() @ self.attention.float()  # [B, C]
        weights = weights.masked_fill(~batch.mask, float("-inf"))
        # a row without any valid context (the encoder drops those) gets zero weights, not NaN
        alpha = torch.softmax(weights.masked_fill(~batch.mask.any(-1, keepdim=True), 0.0), dim=-1)
        alpha = alpha * batch.mask
        return (alpha.unsqueeze(-1) * ctx.float()).sum(1), alpha

    def forward(self, batch) -> torch.Tensor:
        """[B, V_target] logits."""
        v, _ = self.code_vectors(batch)
        return v @ self.targets.weight.float().T


TOP_K = 10
"""code2vec's ``TOP_K_WORDS_CONSIDERED_DURING_PREDICTION``: the names its prediction ranks."""


def top_k_probability(logits: torch.Tensor) -> torch.Tensor:
    """The largest value of the softmax over the :data:`TOP_K` largest logits (along the last
    axis, in float32): code2vec's normalized top-k score (``tf.nn.top_k``, then
    ``tf.nn.softmax`` of its values), which the study's code2seq fork computes per step too."""
    top = logits.float().topk(min(TOP_K, logits.shape[-1]), dim=-1).values
    return torch.softmax(top, dim=-1)[..., 0]


def code2vec_outputs(logits: torch.Tensor, batch, legal: torch.Tensor, score: str = "top10",
                     probs: bool = False) -> dict[str, torch.Tensor]:
    """Per-sample loss, prediction and score ([B] each) of one batch:

    - ``loss`` = -log q(true name) under the softmax over all names (§4.3.3, code2vec's
      ``sparse_softmax_cross_entropy_with_logits``). A held-out name outside the target
      vocabulary has id 0 (:data:`~engine.metrics.methodname.OOV`), so its loss is
      -log q(OOV): finite, and large, since OOV is never a training target;
    - ``pred``: the argmax over the *legal* names only (code2vec
      ``filter_impossible_names``: never OOV, only letters, digits and ``|``;
      :func:`~engine.metrics.methodname.legal_name`);
    - ``score``, the predicted score of §4.3.1 (Figure 4): with ``score="top10"`` (the
      default, what the study logged) the largest of the softmax over the 10 largest
      logits, as code2vec normalizes its top-k prediction (tech-srl/code2vec
      ``tensorflow_model.py``, ``tf.nn.top_k`` then ``tf.nn.softmax`` of the top scores):
      never below 0.1; with ``score="full"`` (the paper's formula) q(pred) under the
      softmax over all names, which falls toward 0 on a large vocabulary;
    - ``correct``: pred == target and target != OOV (equal ids; the epoch metric compares
      the strings, :func:`~engine.metrics.methodname.exact_match`, which agrees unless two
      vocabulary names differ only in case or separators);
    - ``target``: the label id the loss used;
    - ``margin``: the target's logit minus the largest other logit (Pleiss et al. 2020,
      whose mean over the epochs is the area under the margin, engine.dynamics);
    - with ``probs``, ``probs``: the softmax over every name ([B, names]), for
      engine.kfold's out-of-fold probabilities.

    Computed in float32 whatever autocast is in force.
    """
    with torch.autocast(logits.device.type, enabled=False):
        logp = F.log_softmax(logits.float(), dim=-1)
        target = batch.target
        loss = -logp.gather(1, target[:, None])[:, 0]
        masked = logp.masked_fill(~legal, float("-inf")) if bool(legal.any()) else logp
        best, pred = masked.max(dim=-1)
        if score == "top10":
            chosen = top_k_probability(logits)
        else:
            chosen = best.exp()
        out = {
            "loss": loss,
            "pred": pred,
            "score": chosen,
            "correct": (pred == target) & (target != 0),
            "target": target,
            "margin": label_margin(logits.float(), target),
        }
        if probs:
            out["probs"] = logp.exp()
        return out


def build_code2vec(cfg: dict, vocabs) -> Code2Vec:
    """A :class:`Code2Vec` sized by the preset ``cfg`` and the vocabularies
    (:class:`engine.models.c2v_batching.C2VVocabs`)."""
    n_tok, n_path, n_tgt = vocabs.sizes()
    return Code2Vec(n_tok, n_path, n_tgt, cfg, legal=torch.from_numpy(vocabs.legal_targets()))
