"""The form of an LM sampling: outputs sampled from a causal language model, checked by
``engine.launch.check_sampling`` and queued by ``enqueue_sampling``."""
from __future__ import annotations

from collections.abc import Iterator

from textual.widget import Widget
from textual.widgets import Select

from engine.runtime import DEVICES
from engine.store import Store
from engine.store.outputs import CLEAN_UP
from tui.screens.forms.base import LaunchForm, options, parse_int, parse_positive_float


DECODINGS = [("as the study's (clean-up)", 1), ("the tokenizer's text", 0)]
"""The choices of an output set's ``clean_up`` (engine.sample.clean_up_spaces)."""


class SamplingForm(LaunchForm):
    """Outputs sampled from a causal language model (a hub id or a local directory)."""

    HELP_TITLE = "New LM sampling"
    INTRO = "[b]New LM sampling[/]: outputs sampled from a causal language model."

    def fields(self) -> Iterator[Widget]:
        yield self.field("model", "Model", self.text_input(placeholder="gpt2 or path/to/model"),
                         "hub id or local directory")
        yield self.field("n", "Outputs", self.text_input(placeholder="e.g. 1000"))
        yield self.field("seq_len", "Sequence length", self.text_input("512"), "tokens per output")
        yield self.field("top_k", "Top-k", self.text_input("40"))
        yield self.field("temperature", "Temperature", self.text_input("1.0"))
        yield self.field("batch_size", "Batch size", self.text_input("32"))
        yield self.field("seed", "Seed", self.text_input("0"))
        yield self.field("device", "Device", Select(options(DEVICES), value="auto", allow_blank=False))
        yield self.field("clean_up", "Decoding", Select(DECODINGS, value=CLEAN_UP, allow_blank=False),
                         "spaces before . , ? ! removed as in the study")
        yield self.field("name", "Name", self.text_input(placeholder="the set's number, when left empty"), "optional")

    def values(self) -> dict | None:
        model = self.text("model")
        if not model:
            self.mark("model", "required")
        return dict(
            model=model, n=self.checked("n", parse_int, 1), seq_len=self.checked("seq_len", parse_int, 1),
            top_k=self.checked("top_k", parse_int, 1), temperature=self.checked("temperature", parse_positive_float),
            batch_size=self.checked("batch_size", parse_int, 1), seed=self.checked("seed", parse_int, 0),
            device=self.choice("device"), clean_up=self.choice("clean_up"), name=self.text("name") or None,
        )

    def submit(self, store: Store, values: dict) -> tuple[str, bool]:
        from engine.launch import check_sampling, enqueue_sampling

        model = check_sampling(values["model"], values["seq_len"], values["temperature"], None)
        identity = dict(model=model, seq_len=values["seq_len"], top_k=values["top_k"], schedule=None,
                        temperature=values["temperature"], batch_size=values["batch_size"], seed=values["seed"],
                        prompt=None, clean_up=values["clean_up"])
        _, job_id, said = enqueue_sampling(store, identity, values["n"], name=values["name"], trust_remote_code=False,
                                           device=values["device"])
        return said, job_id is not None
