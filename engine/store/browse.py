"""The memorization browser's reads: filters and keyset pages over a scan's snippets.

A page is an index range (never OFFSET), so page 10,000 costs what page 1 does; a text
filter reads the trigram index first. :data:`SNIPPET_ORDERS` is the one table of sort
orders, for the browser, the command line, the exports and the schema's indexes.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.errors import InputError

# order -> (column, largest first); ties are broken by the fingerprint
SNIPPET_ORDERS: dict[str, tuple[str, bool]] = {
    "train": ("train", True), "extract": ("extract", True), "len": ("len", True),
    "first_line": ("first_line", False), "fingerprint": ("fingerprint", False),
}


def first_line(text: str | None) -> str:
    """What the browser shows of a snippet in its list and sorts by: the first line of its
    text, without the white space around it ('' for a snippet without a text)."""
    return (text or "").split("\n", 1)[0].strip()


def sort_key(order: str) -> tuple[str, bool]:
    """(column, descending) of a sort order; InputError for an unknown one."""
    if order not in SNIPPET_ORDERS:
        raise InputError(f"unknown order {order!r} (known: {', '.join(SNIPPET_ORDERS)})", field="order")
    return SNIPPET_ORDERS[order]


def order_by(order: str) -> str:
    """The ORDER BY of a sort order: ``train DESC, fingerprint``."""
    column, descending = sort_key(order)
    return column if column == "fingerprint" else f"{column}{' DESC' if descending else ''}, fingerprint"


def _pii_sql(pii: str, table: str = "") -> tuple[str, list[Any]]:
    """The WHERE of a filter on personal data: any, or one kind in the snippet's list."""
    if pii == "any":
        return f"{table}pii IS NOT NULL", []
    return f"instr(',' || {table}pii || ',', ?) > 0", [f",{pii},"]


@dataclass
class SnippetFilter:
    """What the browser shows of a scan: see :meth:`BrowseMixin.snippet_filter`."""

    scan_id: int
    prefix: str = ""
    text: str = ""
    pii: str | None = None  # "any": snippets holding personal data; a kind (engine.pii.KINDS): that kind
    rowids: str | None = None  # JSON list of the matching rows, when few
    count: int | None = None


class BrowseMixin:
    """The browser's reads, on :class:`~engine.store.Store`."""

    TEXT_CANDIDATES = 2000  # a text filter with more hits than this is read in index order

    def snippet_filter(self, scan_id: int, prefix: str = "", text: str = "", pii: str | None = None) -> SnippetFilter:
        """A filter of a scan's snippets: fingerprints starting with ``prefix``, texts
        containing ``text`` (ASCII letters in either case), and with ``pii`` those holding
        personal data (``"any"``) or data of one kind (``"email"``).

        A text of three characters or more is looked up in the trigram index first. When
        it matches at most :attr:`TEXT_CANDIDATES` snippets of the scan, pages sort just
        those rows, and the count is known at once; otherwise the matches are dense and a
        page is found by reading the sort index until it is full.
        """
        if pii is not None and pii != "any":
            from engine.pii import KINDS

            if pii not in KINDS:
                raise InputError(f"unknown kind of personal data {pii!r} (known: {', '.join(KINDS)})")
        flt = SnippetFilter(scan_id, prefix.lower(), text, pii)
        if self._indexed(flt):
            sql, params = self._text_sql(flt)
            rows = self.db.execute(f"SELECT s.rowid {sql} LIMIT ?", [*params, self.TEXT_CANDIDATES + 1]).fetchall()
            if len(rows) <= self.TEXT_CANDIDATES:
                flt.rowids = json.dumps([r[0] for r in rows])
                flt.count = len(rows)
        return flt

    def _indexed(self, flt: SnippetFilter) -> bool:
        """Whether a filter's text can be looked up in the trigram index (3 characters or more)."""
        return bool(flt.text) and len(flt.text) >= 3 and self.has_text_index

    def _text_sql(self, flt: SnippetFilter) -> tuple[str, list[Any]]:
        """FROM and WHERE of a text filter read through the trigram index: LIKE finds
        candidates (its % and _ in the text only widen them), instr keeps the rows that
        hold the text itself. CROSS JOIN keeps the index first (the planner would
        otherwise probe it once per row of the scan)."""
        where, params = "f.text LIKE ? AND s.scan_id = ? AND instr(lower(s.text), lower(?)) > 0", \
            [f"%{flt.text}%", flt.scan_id, flt.text]
        if flt.prefix:
            where += " AND s.fingerprint >= ? AND s.fingerprint < ?"
            params += [flt.prefix, flt.prefix + "\uffff"]
        if flt.pii is not None:
            pii_where, pii_params = _pii_sql(flt.pii, "s.")
            where += f" AND {pii_where}"
            params += pii_params
        return f"FROM snippet_text f CROSS JOIN snippets s ON s.rowid = f.rowid WHERE {where}", params

    def _filter_sql(self, flt: SnippetFilter) -> tuple[str, list[Any]]:
        """FROM and WHERE of a filter's rows. A few text matches are read by their row ids
        (CROSS JOIN: never by walking a sort index past a million rows that fail)."""
        source, where, params = "snippets", ["scan_id = ?"], [flt.scan_id]
        if flt.rowids is not None:
            source = "json_each(?) AS ids CROSS JOIN snippets ON snippets.rowid = ids.value"
            params.insert(0, flt.rowids)
        if flt.prefix:
            where.append("fingerprint >= ? AND fingerprint < ?")
            params += [flt.prefix, flt.prefix + "\uffff"]
        if flt.rowids is None and flt.text:
            where.append("instr(lower(text), lower(?)) > 0")
            params.append(flt.text)
        if flt.pii is not None:
            pii_where, pii_params = _pii_sql(flt.pii)
            where.append(pii_where)
            params += pii_params
        return f"FROM {source} WHERE {' AND '.join(where)}", params

    def snippet_page(self, flt: SnippetFilter, order: str = "train", after: dict | None = None,
                     before: dict | None = None, last: bool = False, limit: int = 100,
                     reverse: bool = False) -> list[dict]:
        """One page of filtered snippets in ``order`` (train, extract, len: largest first;
        first_line, fingerprint: alphabetical; ties by fingerprint), or in exactly the
        reverse order with ``reverse``.

        Keyset paging: ``after`` is the last row of the page above, ``before`` the first
        row of the page below, ``last`` asks for the final page. Each page is an index
        range (read backward for a reversed order), so page 10,000 costs what page 1 does.
        """
        column, descending = sort_key(order)
        backward = before is not None or last
        anchor = before if before is not None else after
        where, params = self._filter_sql(flt)
        # the order of this read: the page order, or its reverse when reading backward
        flip = backward != reverse
        down = descending != flip
        tie = "DESC" if flip else "ASC"
        cols = "fingerprint, len, train, extract, first_line, pii"
        rows: list[dict] = []
        if anchor is not None and column != "fingerprint":  # the rest of the anchor's tie first
            rows = self._rows(
                f"SELECT {cols} {where} AND {column} = ? AND fingerprint {'<' if flip else '>'} ? "
                f"ORDER BY {column} {'DESC' if down else 'ASC'}, fingerprint {tie} LIMIT ?",
                params + [anchor[column], anchor["fingerprint"], limit],
            )
        if len(rows) < limit:
            more_where, more_params = where, list(params)
            if anchor is not None:
                more_where += f" AND {column} {'<' if down else '>'} ?"
                more_params.append(anchor[column])
            rows += self._rows(
                f"SELECT {cols} {more_where} "
                f"ORDER BY {column} {'DESC' if down else 'ASC'}, fingerprint {tie} LIMIT ?",
                more_params + [limit - len(rows)],
            )
        return rows[::-1] if backward else rows

    def snippet_filter_count(self, flt: SnippetFilter) -> int:
        """How many snippets pass a filter (known at once for a sparse text filter)."""
        if flt.count is not None:
            return flt.count
        if self._indexed(flt):
            sql, params = self._text_sql(flt)
            return self.db.execute(f"SELECT COUNT(*) {sql}", params).fetchone()[0]
        where, params = self._filter_sql(flt)
        return self.db.execute(f"SELECT COUNT(*) {where}", params).fetchone()[0]

    def iter_snippets(self, scan_id: int, order: str = "train") -> Iterator[dict]:
        """Every snippet of a scan with its text, in ``order`` (for exports)."""
        sort_key(order)
        cur = self.db.execute(f"SELECT fingerprint, len, train, extract, text FROM snippets WHERE scan_id = ? "
                              f"ORDER BY {order_by(order)}", [scan_id])
        cols = [c[0] for c in cur.description]
        for row in cur:
            yield dict(zip(cols, row))
