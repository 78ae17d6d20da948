"""Sampled outputs in the store: output sets (a model and its sampling settings, or an
imported folder) and their outputs, each with its id and md5."""
from __future__ import annotations

from typing import Any, Iterable, Iterator

from engine.errors import InputError
from engine.formats import SQLITE_INT_MAX


CLEAN_UP = 1
"""A sampled set's ``clean_up`` unless its maker says otherwise: decoded as the extraction
study's outputs were (engine.sample.sample_batch)."""


class OutputsMixin:
    """Output sets and outputs, on :class:`~engine.store.Store`."""

    def add_output_set(self, prompt_list: list | None = None, **fields: Any) -> int:
        """A new output set; with ``prompt_list`` ((text, document, offset) each, numbered
        from 1), a prompted one, both in one transaction."""
        if fields.get("source") == "sample":
            fields = {"clean_up": CLEAN_UP, **fields}
        with self._write():
            set_id = self._add("output_sets", fields, {"config": {}})
            if prompt_list:
                self.db.conn.executemany("INSERT INTO set_prompts(set_id, id, text, doc, offset) VALUES (?, ?, ?, ?, ?)",
                                         [(set_id, i, *p) for i, p in enumerate(prompt_list, 1)])
        return set_id

    def output_set(self, set_id: int) -> dict:
        row = self._get("output_sets", set_id, "output set", ("config",))
        row["count"] = self.output_count(set_id)
        return row

    def output_sets(self) -> list[dict]:
        return [self.output_set(r["id"]) for r in self._rows("SELECT id FROM output_sets ORDER BY id")]

    def find_output_set(self, **identity: Any) -> dict | None:
        """The first sampled set with exactly these settings (``None`` values match NULL;
        the optional ones left out, a prompt, a schedule, prompts, are NULL too; ``clean_up``
        left out is :data:`CLEAN_UP`)."""
        found = self.find_output_sets(**identity)
        return found[0] if found else None

    def find_output_sets(self, **identity: Any) -> list[dict]:
        """Every sampled set with these settings, oldest first (as :meth:`find_output_set`)."""
        identity = {**dict.fromkeys(("prompt", "schedule", "prompts")), "clean_up": CLEAN_UP, **identity}
        where = " AND ".join(f"{k} IS ?" for k in identity)
        rows = self._rows(f"SELECT id FROM output_sets WHERE source = 'sample' AND {where} ORDER BY id",
                          list(identity.values()))
        return [self.output_set(row["id"]) for row in rows]

    def update_output_set(self, set_id: int, **fields: Any) -> None:
        with self._write():
            self.db["output_sets"].update(set_id, fields)

    def add_outputs(self, set_id: int, rows: Iterable[tuple[int, str, str, int | None]]) -> None:
        """Store ``(id, md5, text, n_tokens)`` rows in one transaction: all or none."""
        with self._write():
            self.db.conn.executemany(
                "INSERT INTO outputs(set_id, id, md5, text, n_tokens) VALUES (?, ?, ?, ?, ?)",
                [(set_id, i, md5, text, n) for i, md5, text, n in rows],
            )

    def _of_set(self, what: str, set_id: int, up_to: int | None, tail: str = "") -> list:
        """``SELECT what`` over the set's outputs, or those of id ``up_to`` or less (a scan's
        bound: its ``n_outputs``)."""
        return self.db.execute(f"SELECT {what} FROM outputs WHERE set_id = ? AND id <= ?{tail}",
                               [set_id, SQLITE_INT_MAX if up_to is None else up_to]).fetchall()

    def output_count(self, set_id: int, up_to: int | None = None) -> int:
        """The set's outputs, or those of id ``up_to`` or less."""
        return self._of_set("COUNT(*)", set_id, up_to)[0][0]

    def output_span(self, set_id: int, up_to: int | None = None) -> tuple[int | None, int | None]:
        """(smallest id, largest id) of the set's outputs, or of those of id ``up_to`` or
        less; each read from an end of the index, whatever the set's size."""
        return self._of_set("MIN(id)", set_id, up_to)[0][0], self._of_set("MAX(id)", set_id, up_to)[0][0]

    def output_ids(self, set_id: int, up_to: int | None = None) -> list[int]:
        """The ids of the set's outputs in order, or of those of id ``up_to`` or less."""
        return [r[0] for r in self._of_set("id", set_id, up_to, " ORDER BY id")]

    def max_output_id(self, set_id: int) -> int:
        row = self.db.execute("SELECT MAX(id) FROM outputs WHERE set_id = ?", [set_id]).fetchone()
        return row[0] or 0

    def outputs(self, set_id: int, batch: int = 2000) -> Iterator[dict]:
        """Every output of a set in id order, read in batches (no whole-set list)."""
        last = -1
        while True:
            rows = self._rows(
                "SELECT id, md5, text, n_tokens FROM outputs WHERE set_id = ? AND id > ? ORDER BY id LIMIT ?",
                [set_id, last, batch],
            )
            if not rows:
                return
            yield from rows
            last = rows[-1]["id"]

    def output_texts(self, set_id: int, ids: list[int], batch: int = 500) -> Iterator[tuple[int, str]]:
        """``(id, text)`` of the outputs ``ids`` of a set, in the order given, read in batches."""
        for at in range(0, len(ids), batch):
            part = ids[at:at + batch]
            marks = ", ".join("?" * len(part))
            texts = dict(self.db.execute(f"SELECT id, text FROM outputs WHERE set_id = ? AND id IN ({marks})",
                                         [set_id, *part]).fetchall())
            for output_id in part:
                yield output_id, texts[output_id]

    def delete_output_set(self, set_id: int) -> None:
        """Remove an output set with its outputs, its sampling jobs, and its scans with theirs."""
        with self._write():
            for row in self._rows("SELECT id FROM scans WHERE set_id = ?", [set_id]):
                self.delete_scan(row["id"])
            self._delete_jobs("sampling", set_id)
            self.db.execute("DELETE FROM output_perplexity WHERE set_id = ?", [set_id])
            self.db.execute("DELETE FROM set_prompts WHERE set_id = ?", [set_id])
            self.db.execute("DELETE FROM outputs WHERE set_id = ?", [set_id])
            self.db.execute("DELETE FROM output_sets WHERE id = ?", [set_id])

    def add_perplexities(self, set_id: int, model: str, variant: str, rows) -> None:
        """``(output id, perplexity)`` rows under ``model`` of the outputs' ``variant``, in one transaction."""
        with self._write():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO output_perplexity(set_id, output_id, model, variant, ppl) VALUES (?, ?, ?, ?, ?)",
                [(set_id, i, model, variant, None if ppl != ppl else ppl) for i, ppl in rows])

    def perplexity_ids(self, set_id: int, model: str, variant: str) -> set[int]:
        """The outputs of the set scored under ``model`` (``variant``) already."""
        cur = self.db.execute("SELECT output_id FROM output_perplexity WHERE set_id = ? AND model = ? AND variant = ?",
                              [set_id, model, variant])
        return {r[0] for r in cur.fetchall()}

    def perplexities(self, set_id: int, model: str, variant: str) -> dict[int, float]:
        """Output id -> perplexity (NaN where it has none)."""
        cur = self.db.execute("SELECT output_id, ppl FROM output_perplexity WHERE set_id = ? AND model = ? AND "
                              "variant = ?", [set_id, model, variant])
        return {i: float("nan") if ppl is None else ppl for i, ppl in cur.fetchall()}

    def set_prompts(self, set_id: int) -> list[dict]:
        return self._rows("SELECT id, text, doc, offset FROM set_prompts WHERE set_id = ? ORDER BY id", [set_id])

    def set_model_size(self, model: str, parameters: int) -> None:
        with self._write():
            self.db.execute("INSERT OR REPLACE INTO model_sizes(model, parameters) VALUES (?, ?)", [model, parameters])

    def model_size(self, model: str) -> int | None:
        row = self.db.execute("SELECT parameters FROM model_sizes WHERE model = ?", [model]).fetchone()
        return None if row is None else row[0]

    def scored_models(self, set_id: int, variant: str = "text") -> list[str]:
        """The models under which every output of the set has a perplexity of ``variant``."""
        count = self.output_count(set_id)
        rows = self.db.execute("SELECT model, COUNT(*) FROM output_perplexity WHERE set_id = ? AND variant = ? "
                               "GROUP BY model ORDER BY MIN(rowid)", [set_id, variant]).fetchall()
        return [model for model, n in rows if n >= count]

    def memorized_output_ids(self, scan_id: int) -> set[int]:
        """The outputs holding at least one snippet of the scan."""
        cur = self.db.execute("SELECT DISTINCT output_id FROM snippet_outputs WHERE scan_id = ?", [scan_id])
        return {r[0] for r in cur.fetchall()}

    def output(self, set_id: int, output_id: int) -> dict:
        row = self._row("SELECT id, md5, text, n_tokens FROM outputs WHERE set_id = ? AND id = ?", [set_id, output_id])
        if row is None:
            raise InputError(f"no output {output_id} in output set {set_id}")
        return row
