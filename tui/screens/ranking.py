"""How well each ranking signal finds a scan's memorized outputs (``r`` in the browser;
engine.ranking, the study's ``evaluation/eva.py``): the precision of each signal's top N
in a table (N = 100, 1,000) and as curves over N, beside the memorized share of the set.
``R`` queues the perplexities under the set's own model when they are missing."""
from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Static

from engine.untrusted import visible
from tui.screens.base import PolledScreen, SubScreen, describe
from tui.widgets.keytable import KeyTable
from tui.widgets.plot import Plot

CURVE_POINTS = 40  # values of N on the precision curve, spread evenly on a log scale
SIGNAL_COLOURS = {"perplexity": (70, 200, 230), "ratio": (240, 180, 60), "lowercase": (200, 120, 230),
                  "zlib": (120, 220, 120), "random": (150, 150, 150)}


def curve_ns(total: int, points: int = CURVE_POINTS) -> list[int]:
    """Ns from 1 to ``total``, evenly spread on a log scale, each once."""
    if total < 1:
        return []
    return sorted({max(1, round(total ** (k / (points - 1)))) for k in range(points)} | {total})


def read_ranking(store, scan_id: int) -> dict:
    """What the screen shows: the models scored, the table, and each signal's curve; or
    ``missing``, why there is nothing to rank yet."""
    import numpy as np

    from engine.ranking import TOPS, precision_curve, precision_table, scores_of, signal_values

    scan = store.finished_scan(scan_id)
    outputs = store.output_set(scan["set_id"])
    model = outputs["model"]
    scored, lower = store.scored_models(outputs["id"]), store.scored_models(outputs["id"], "lower")
    if not model or model not in scored or model not in lower:
        return {"missing": f"no perplexities of set {outputs['id']}'s outputs under its model yet"
                           + (": press R to queue them, or byrote rank --scan " + str(scan_id) if model else
                              f" (an imported set: byrote rank --scan {scan_id} --model M)")}
    reference = next((m for m in reversed(scored) if m != model and store.model_size(m) is not None), None)
    ids, scores = scores_of(store, outputs["id"], model, reference)
    memorized_ids = store.memorized_output_ids(scan_id)
    memorized = np.array([i in memorized_ids for i in ids], dtype=bool)
    ns = curve_ns(len(ids))
    curves = {name: precision_curve(values, memorized, ns) for name, values in signal_values(scores).items()}
    return {"model": model, "reference": reference, "outputs": len(ids), "memorized": int(memorized.sum()),
            "table": precision_table(scores, memorized, TOPS), "ns": ns, "curves": curves}


class RankingScreen(PolledScreen, SubScreen):
    """The ranking signals of one finished scan, read again every poll: the table appears
    once every output is scored."""

    HELP_TITLE = "Ranking signals"
    BINDINGS = [Binding("R", "queue", "Queue perplexities", tooltip="Score the outputs under the set's model")]
    DEFAULT_CSS = """
    RankingScreen #r-title { height: auto; max-height: 3; padding: 0 1; background: $panel; }
    RankingScreen #r-curves { height: 2fr; min-height: 8; }
    RankingScreen #r-table { height: 1fr; min-height: 4; }
    """

    def __init__(self, scan_id: int) -> None:
        super().__init__()
        self.scan_id = scan_id
        self.ranking: dict | None = None
        self._drawn: tuple | None = None
        self._read_stamp: tuple | None = None
        self._last: dict | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"scan {self.scan_id}: ranking signals", id="r-title")
        yield Plot(id="r-curves")
        yield KeyTable(id="r-table")
        yield Footer(compact=True)

    def read(self, store) -> dict:
        """The ranking, computed again only when the perplexities stored changed."""
        scan = store.finished_scan(self.scan_id)
        stamp = store.db.execute("SELECT COUNT(*), COUNT(DISTINCT model) FROM output_perplexity WHERE set_id = ?",
                                 [scan["set_id"]]).fetchone()
        if self._read_stamp != stamp or self._last is None:
            self._last, self._read_stamp = read_ranking(store, self.scan_id), stamp
        return self._last

    def show(self, ranking: dict) -> None:
        self.ranking = ranking
        title = self.query_one("#r-title", Static)
        if "missing" in ranking:
            title.update(Text(visible(f"scan {self.scan_id}: {ranking['missing']}")))
            return
        title.update(Text(visible(
            f"scan {self.scan_id}: {ranking['memorized']:,} of {ranking['outputs']:,} outputs memorized · model "
            f"{ranking['model']}" + (f" · reference {ranking['reference']}" if ranking["reference"] else
                                     " · no reference model (byrote rank --reference-model M)"))))
        table = self.query_one("#r-table", KeyTable)
        rows = ranking["table"]
        tops = list(rows[0]["precision"]) if rows else []
        if not table.columns:
            table.add_column("signal", key="signal")
            for n in tops:
                table.add_column(f"top {n}", key=str(n))
        table.clear()
        for row in rows:
            table.add_row(row["signal"], *(Text("-" if math.isnan(row["precision"][n]) else
                                                f"{row['precision'][n]:.3f}" + (f" (of {row['n'][n]})"
                                                                                if row["n"][n] != n else ""),
                                                justify="right") for n in tops), key=row["signal"])
        drawn = (self.size, tuple((k, tuple(v)) for k, v in ranking["curves"].items()))
        if drawn != self._drawn:
            self._drawn = drawn
            self._draw(ranking)

    def _draw(self, ranking: dict) -> None:
        plot = self.query_one("#r-curves", Plot)
        plt = plot.plt
        plt.clear_figure()
        plt.title("precision of the top N at finding memorized outputs")
        plt.xlabel("N (log scale)")
        ns = ranking["ns"]
        for name, values in ranking["curves"].items():
            plt.plot(ns, values, label=name, marker="braille", color=SIGNAL_COLOURS.get(name, (200, 200, 200)))
        share = ranking["memorized"] / ranking["outputs"] if ranking["outputs"] else 0.0
        plt.plot(ns, [share] * len(ns), label="random", marker="braille", color=SIGNAL_COLOURS["random"])
        if len(ns) > 1:
            plt.xscale("log")
        plt.ylim(0, 1)
        plot.refresh()

    def action_queue(self) -> None:
        """Queue the perplexity jobs the set's own model still needs (no reference model)."""

        def queue(store) -> str:
            from engine.launch import check_ranking, enqueue_ranking

            jobs = enqueue_ranking(store, check_ranking(store, self.scan_id))
            if jobs:
                self.app.ensure_worker()
            return f"jobs {', '.join(map(str, jobs))} queued" if jobs else "every output is scored already"

        self.run_with_store(queue, lambda said: (self.notify(said), self.refresh_data()),
                            lambda exc: self.notify(describe(exc), severity="warning"), group="write")
