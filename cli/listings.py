"""Listings for people and for scripts: ``byrote studies`` and ``byrote scans`` (the
dashboard's rows of one kind, :func:`engine.overview.overview`), and ``--json`` on every
listing: one JSON document on standard output, its text escaped by the encoder (control
characters as ``\\u00XX``, everything beyond ASCII as well), so names and messages stay
data on any terminal."""
from __future__ import annotations

import dataclasses
import json
import math
import sys
import time

from rich.table import Table

from cli.options import Commands, open_store
from cli.show import cell, console


def add_json(parser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON document instead of a table")


def print_json(value) -> None:
    """``value`` as one line of JSON (NaN as null: strict JSON for every reader)."""
    sys.stdout.write(json.dumps(strict(value), ensure_ascii=True, allow_nan=False) + "\n")


def strict(value):
    """``value`` with NaN and ±inf as None, keys as strings: what strict JSON can hold."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def item_rows(store, kind: str) -> list[dict]:
    """The dashboard's items of ``kind`` as plain dicts (state, progress 0..1, ETA and age
    in seconds, their jobs as ``[id, state]``)."""
    from engine.overview import overview

    return [dataclasses.asdict(item) for item in overview(store, time.time()).items if item.kind == kind]


def cmd_items(args) -> int:
    from engine.overview import age, bar, duration

    rows = item_rows(open_store(args), args.kind)
    if args.json:
        print_json(rows)
        return 0
    table = Table(box=None, header_style="bold")
    for col in ("id", "name", "state", "progress", "ETA", "device", "age", "detail"):
        # names and details wrap on a narrow terminal rather than lose their ends
        table.add_column(col, justify="right" if col == "id" else "left",
                         overflow="fold" if col in ("name", "detail", "device") else "ellipsis",
                         no_wrap=col not in ("name", "detail", "device"), max_width=16 if col == "device" else None)
    for r in rows:
        table.add_row(str(r["id"]), cell(r["name"]), r["state"], bar(r["progress"], 10),
                      duration(r["eta"]) if r["eta"] is not None else "-", cell(r["device"]), age(r["age"]),
                      cell(r["detail"]))
    console().print(table)
    return 0


def register(c: Commands) -> None:
    for kind, command, what in (("study", "studies", "noise studies"), ("scan", "scans", "scans")):
        p = c.add(command, cmd_items, f"list the {what} with their state, progress and ETA")
        p.set_defaults(kind=kind)
        add_json(p)
