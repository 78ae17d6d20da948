"""The form of a scan: which spans of an output set's outputs reproduce a training corpus,
checked by ``engine.launch.check_scan`` and ``open_checked_corpus``, queued by
``enqueue_scan``."""
from __future__ import annotations

from collections.abc import Iterator

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Select

from engine.clones.rules import DEFAULT_RULES, RULES
from engine.store import Store
from engine.untrusted import visible
from tui.screens.forms.base import LaunchForm, options, parse_int


class ScanForm(LaunchForm):
    """A scan of an output set's outputs against a training corpus."""

    HELP_TITLE = "New scan"
    INTRO = ("[b]New scan[/]: which output spans reproduce a training corpus. [dim](A Hugging Face dataset, "
             "hf:NAME, is scanned from the command line: byrote scan.)[/]")

    def __init__(self, set_id: int | None = None) -> None:
        super().__init__()
        self.set_id = set_id

    def fields(self) -> Iterator[Widget]:
        yield self.field("outputs", "Outputs", Select([], prompt="reading output sets…"))
        yield self.field("corpus", "Corpus", self.text_input(placeholder="a directory, or a .jsonl, .json.gz, "
                                                                         ".parquet file"))
        # a placeholder is never a default in disguise: empty means every file, said so
        yield self.field("glob", "File pattern", self.text_input(placeholder="every file (or a pattern: *.py)"),
                         "for a directory")
        yield self.field("text_field", "Text field", self.text_input("content"), "for records")
        yield self.field("min_lines", "Minimum lines", self.text_input("6"), "at least 2")
        yield self.field("name", "Name", self.text_input(placeholder="the corpus, when left empty"), "optional")
        yield self.field("rules", "Rules", Select(options(RULES), value=DEFAULT_RULES, allow_blank=False),
                         "simian: the study's (Simian 2.5.10); lines: byrote's own")

    def on_mount(self) -> None:
        self.run_with_store(lambda store: [s for s in store.output_sets() if s["count"]], self._show_sets,
                            group="sets")

    def _show_sets(self, sets: list[dict]) -> None:
        select = self.query_one("#outputs", Select)
        select.prompt = "choose an output set"
        select.set_options([(Text(visible(f"set {s['id']}: {s['name'] or s['model'] or s['source']} "
                                          f"({s['count']} outputs)")), s["id"]) for s in sets])  # names: text
        if not sets:
            self.say("no output set holds outputs yet: sample some first (s on the dashboard)", error=True)
        elif self.set_id is None:
            select.value = sets[-1]["id"]  # the newest
        elif self.set_id in [s["id"] for s in sets]:
            select.value = self.set_id
        else:
            self.mark("outputs", f"output set {self.set_id} holds no outputs yet")

    def values(self) -> dict | None:
        set_id = self.choice("outputs")
        if set_id is None:
            self.mark("outputs", "choose an output set")
        corpus = self.text("corpus")
        if not corpus:
            self.mark("corpus", "required")
        elif corpus.startswith("hf:"):
            self.mark("corpus", f"a Hugging Face dataset is opened by the command line: "
                                f"byrote scan --outputs {set_id or 'N'} --corpus {corpus}")
        return dict(set_id=set_id, corpus=corpus, glob=self.text("glob") or None,
                    text_field=self.text("text_field") or "content",
                    min_lines=self.checked("min_lines", parse_int, 2), rules=self.choice("rules"),
                    name=self.text("name") or None)

    def submit(self, store: Store, values: dict) -> tuple[str, bool]:
        from engine.launch import check_scan, enqueue_scan, open_checked_corpus

        plan = check_scan(store, values["set_id"], values["min_lines"], values["rules"])
        corpus = open_checked_corpus(values["corpus"], glob=values["glob"], text_field=values["text_field"])
        _, _, said = enqueue_scan(store, plan, corpus, name=values["name"])
        return said, True
