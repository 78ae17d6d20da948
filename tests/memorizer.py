"""A language model that memorized four short documents, for the extraction tests: trained
once per session by conftest's ``memorizer`` fixture (k-extractability, ranking)."""
from __future__ import annotations

from pathlib import Path

import torch
from test_lm import tiny_lm_for_session

MEMORIZED = [  # 30-40 tokens each under the tiny LM's tokenizer
    "def area(radius):\n    return 3.14159 * radius * radius\n",
    "import os\npath = os.path.join(root, 'data')\nprint(path)\n",
    "for index in range(10):\n    print('odd', index)\n",
    "class Counter:\n    def increment(self):\n        self.count += 1\n",
]

def train_memorizer(tmp_path_factory) -> Path:
    """A 2-layer GPT-2 trained until it reproduces the four MEMORIZED documents from any
    place in them (trained on each of their 20-token crops, a window of 12 + 8 tokens,
    at position 0), saved with the tiny LM's tokenizer (4 s on a CPU)."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    tiny = tiny_lm_for_session(tmp_path_factory)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny.out))
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=256, n_embd=64, n_layer=2, n_head=2))
    ids = [tokenizer(t)["input_ids"] for t in MEMORIZED]
    crops = torch.tensor([seq[o:o + 20] for seq in ids for o in range(len(seq) - 19)])
    assert len(crops) == 63
    optim = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(200):
        loss = model(input_ids=crops, labels=crops).loss
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert loss.item() < 0.1  # what is left: the first tokens of a crop, which its start cannot tell
    out = tmp_path_factory.mktemp("memorizer")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
