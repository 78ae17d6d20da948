"""What the commands print as tables: jobs, a study's results, a scan's snippets (rich)."""
from __future__ import annotations

import time

from rich.table import Table

from cli.show import cell, console as show_console
from engine.noise import level_name
from engine.overview import duration
from engine.presets import axis_unit
from engine.results import fmt_value, result_rows, summary
from engine.store import Store
from engine.tasks import TASK_HEADLINES
from engine.untrusted import visible


def jobs_table(jobs: list[dict]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("id", "kind", "item", "run", "slot", "state", "progress", "eta", "heartbeat", "message"):
        table.add_column(col, justify="right" if col in ("id", "run", "slot", "progress") else "left")
    now = time.time()
    for j in jobs:
        beat = duration(now - j["heartbeat"]) + " ago" if j["heartbeat"] and j["state"] == "running" else "-"
        eta = duration(j["eta"]) if j["state"] == "running" and j["eta"] is not None else "-"
        message = j["error"] if j["state"] == "failed" else (j["message"] or "")
        table.add_row(
            str(j["id"]), j["kind"], f"{j['item_kind']} {j['item_id']}" if j["item_kind"] else "-", str(j["run_id"] or "-"),
            "-" if j.get("slot") is None else str(j["slot"]), j["state"],
            f"{100 * (j['progress'] or 0):.0f}%", eta, beat, cell(message),
        )
    return table


def results_table(store: Store, study_id: int) -> Table:
    """The last epoch of each noise level: one column per level, one row per metric,
    held-out figures first (fits 80 columns for five levels)."""
    study = store.study(study_id)
    rows = summary(store, study_id)
    table = Table(title=cell(f"study {study_id}: {study['name']} ({study['model']}, {study['preset']} preset)"),
                  header_style="bold")
    unit = axis_unit(study["config"] or {})
    table.add_column(f"metric at the last {unit}")
    for row in rows:
        table.add_column(f"{level_name(row['level'])}%", justify="right")
    for name, values in result_rows(rows, TASK_HEADLINES[study["task"]], unit):
        table.add_row(name, *[fmt_value(v) for v in values])
    return table


def comparison_table(study: dict, rows: list, reference: str) -> Table:
    """``byrote compare``: per published curve and level, the last epoch of each (``ep``)
    and the difference (``diff``), study - published (names from files: plain text, never markup)."""
    table = Table(title=cell(f"study {study['id']} ({study['model']}, {study['preset']} preset) beside {reference}"),
                  box=None, header_style="bold")
    for col in ("curve", "level", "published", "ep", "study", "ep", "diff"):  # the numbers whole, the curve folded
        table.add_column(col, justify="left" if col == "curve" else "right", no_wrap=col != "curve",
                         overflow="fold" if col == "curve" else "ellipsis")
    for r in rows:
        diff = r.difference
        table.add_row(cell(r.curve), f"{level_name(r.level)}%", fmt_value(r.published), str(r.published_epoch),
                      fmt_value(r.value), "-" if r.epoch is None else str(r.epoch),
                      "-" if diff is None else f"{diff:+.4f}")
    return table


def print_memorized(store, scan_id: int, top: int = 10, order: str = "train", prefix: str = "") -> None:
    scan = store.scan(scan_id)
    stats = scan["stats"]
    console = show_console()
    if scan["source"] == "scan" and stats:
        console.print(
            f"scan {scan_id}: {stats.get('snippets', 0)} memorized snippets; "
            f"{stats.get('memorized_outputs', 0)} of {stats.get('outputs', 0)} outputs hold at least one "
            f"({stats.get('docs', 0)} documents, {stats.get('skipped', 0)} skipped as not UTF-8, "
            f"{stats.get('bytes', 0) / 1e6:,.1f} MB in {stats.get('seconds', 0)} s)")
    # plain columns: rich's table drops narrow columns beside a long no-wrap one
    room = max(console.width - 60, 10)  # the columns before the first line take 59
    console.print(f"{'fingerprint':32}  {'len':>5}  {'train':>7}  {'extract':>7}  first line", style="bold")
    for s in store.snippet_page(store.snippet_filter(scan_id, prefix=prefix), order, limit=top):
        first = visible((s["first_line"] or "").strip())
        first = first if len(first) <= room else first[:room - 1] + "…"
        console.print(f"{s['fingerprint']:32}  {s['len']:>5}  {s['train']:>7}  {s['extract']:>7}  {first}")
