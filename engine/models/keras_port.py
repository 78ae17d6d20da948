"""What the reference's TensorFlow code leaves to Keras's defaults, for the VarMisuse models
of ``port=study`` (VHellendoorn/ICLR20-Great as CI-Memorization ran it; the setting is
in :data:`engine.presets.CHOICES`): initial weights, layer-norm epsilon, and Adam.

PyTorch's defaults differ: its ``nn.Linear`` draws from U(±1/sqrt(in)) with a bias, its
``nn.Embedding`` from N(0, 1), its GRU's recurrent weights are not orthogonal, its layer
norm adds 1e-5 and its Adam 1e-8 after the bias correction. The reference starts its
attention 12 times flatter than those defaults would (q and k from Glorot over its 3-D
weights), so the port matters to the curves from the first epoch.
"""
from __future__ import annotations

import math

import torch
from torch import nn

LAYER_NORM_EPSILON = 1e-3  # models/great_transformer.py LayerNormalization.call
ADAM_EPSILON = 1e-7  # tf.keras.optimizers.Adam's default (running/run_model.py builds it with the rate alone)


def keras_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras's (fan_in, fan_out) of a weight of TF shape ``shape``: the last two axes,
    each times the product of the others (the receptive field)."""
    field = math.prod(shape[:-2])
    return shape[-2] * field, shape[-1] * field


@torch.no_grad()
def glorot_(weight: torch.Tensor, tf_shape: tuple[int, ...]) -> None:
    """``glorot_uniform`` of a TF weight of ``tf_shape`` into ``weight`` (same number of
    entries, any layout): U(±sqrt(6 / (fan_in + fan_out)))."""
    fan_in, fan_out = keras_fans(tf_shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    weight.uniform_(-limit, limit)


def _dense(layer: nn.Linear) -> None:
    """A Keras ``Dense``: Glorot over its (in, out) kernel, a zero bias."""
    glorot_(layer.weight, (layer.in_features, layer.out_features))
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


def reference_init(model: nn.Module) -> None:
    """Give a VarMisuse model (:class:`engine.models.VarMisuseModel`) the reference's initial
    weights and layer-norm epsilon, in place:

    - attention (models/great_transformer.py ``AttentionLayer.build``): q, k and v are TF
      weights [H, heads, d], o is [heads, d, H], each Glorot with Keras's fans; GREAT's
      edge-type embedding [types, d] and its projection [d, 1] are Glorot too;
    - feed-forward layers and the two pointers (``Dense``): Glorot, zero biases;
    - layer norms: epsilon 1e-3;
    - the GGNN's GRU cells (Keras ``GRUCell``): Glorot over the input kernel [in, 3H],
      an orthogonal recurrent kernel, zero biases; its edge weights and biases are drawn
      from N(0, 1/H) by the reference itself, as :class:`~engine.models.ggnn.GGNN` does;
    - the token embedding: N(0, 1/H), as the reference draws it.
    """
    from engine.models.great import RelationalAttention
    from engine.models.pointer import PointerHead
    from engine.models.transformer import Block, SelfAttention

    for module in model.modules():
        if isinstance(module, SelfAttention):
            H, heads, d = module.q.in_features, module.num_heads, module.head_dim
            for proj in (module.q, module.k, module.v):
                glorot_(proj.weight, (H, heads, d))
            glorot_(module.o.weight, (heads, d, H))
            if isinstance(module, RelationalAttention):
                glorot_(module.edge_emb.weight, tuple(module.edge_emb.weight.shape))
                glorot_(module.edge_scalar.weight, (d, 1))
        elif isinstance(module, Block):
            _dense(module.ff1)
            _dense(module.ff2)
        elif isinstance(module, PointerHead):
            _dense(module.proj)
        elif isinstance(module, nn.LayerNorm):
            module.eps = LAYER_NORM_EPSILON
        elif isinstance(module, nn.GRUCell):
            glorot_(module.weight_ih, (module.input_size, 3 * module.hidden_size))
            nn.init.orthogonal_(module.weight_hh)
            nn.init.zeros_(module.bias_ih)
            nn.init.zeros_(module.bias_hh)


class KerasAdam(torch.optim.AdamW):
    """Adam as ``tf.keras.optimizers.Adam`` steps: epsilon (1e-7) added to sqrt(v) before
    the bias correction, which is PyTorch's epsilon of 1e-7 / sqrt(1 - beta2^t) at step
    t. Early steps and parameters of tiny gradients (the token embedding, whose sum over
    ten slots is divided by ten) move less than under PyTorch's 1e-8. The step count is
    read from the optimizer's state, so a resumed run goes on where it stopped."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0, epsilon: float = ADAM_EPSILON):
        super().__init__(params, lr=lr, weight_decay=weight_decay, eps=epsilon)
        self.keras_epsilon = epsilon

    @torch.no_grad()
    def step(self, closure=None):
        steps = [float(s["step"]) for s in self.state.values() if "step" in s]
        t = (max(steps) if steps else 0.0) + 1.0
        for group in self.param_groups:
            group["eps"] = self.keras_epsilon / math.sqrt(1.0 - group["betas"][1] ** t)
        return super().step(closure)
