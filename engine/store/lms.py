"""Language-model trainings in the store: where each model is written and from what
corpus, preset and seed (the demo's model, or any ``byrote lm train``)."""
from __future__ import annotations

import json
import time
from typing import Any

from engine.errors import InputError


class LMsMixin:
    """LM trainings, on :class:`~engine.store.Store`."""

    def add_lm_training(self, **fields: Any) -> int:
        fields = dict(fields)
        fields["corpus"] = json.dumps(fields.get("corpus"))
        fields["settings"] = json.dumps(fields.get("settings") or {})
        fields.setdefault("created", time.time())
        with self._write():
            return self.db["lm_trainings"].insert(fields).last_pk

    def lm_training(self, lm_id: int) -> dict:
        row = self._row("SELECT * FROM lm_trainings WHERE id = ?", [lm_id])
        if row is None:
            raise InputError(f"no language-model training with id {lm_id}")
        row["corpus"] = json.loads(row["corpus"])
        row["settings"] = json.loads(row["settings"])
        return row

    def lm_trainings(self) -> list[dict]:
        return [self.lm_training(r["id"]) for r in self._rows("SELECT id FROM lm_trainings ORDER BY id")]

    def lm_training_into(self, out: str) -> dict | None:
        """The newest training whose model is written to ``out``."""
        row = self._row("SELECT id FROM lm_trainings WHERE out = ? ORDER BY id DESC LIMIT 1", [str(out)])
        return None if row is None else self.lm_training(row["id"])

    def delete_lm_training(self, lm_id: int) -> None:
        """Remove an LM training with its jobs (not the model folder)."""
        with self._write():
            self.db.execute("DELETE FROM jobs WHERE item_kind = 'lm' AND item_id = ?", [lm_id])
            self.db.execute("DELETE FROM lm_trainings WHERE id = ?", [lm_id])
