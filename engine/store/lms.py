"""Language-model trainings in the store: where each model is written and from what
corpus, preset and seed (the demo's model, or any ``byrote lm train``)."""
from __future__ import annotations

import json
from typing import Any


class LMsMixin:
    """LM trainings, on :class:`~engine.store.Store`."""

    def add_lm_training(self, **fields: Any) -> int:
        return self._add("lm_trainings", fields, {"corpus": None, "settings": {}})

    def lm_training(self, lm_id: int) -> dict:
        row = self._get("lm_trainings", lm_id, "language-model training", ("corpus", "settings"))
        row["epoch_losses"] = json.loads(row.get("epoch_losses") or "[]")  # none before the first epoch ends
        return row

    def set_lm_losses(self, lm_id: int, losses: list[float]) -> None:
        """The mean training loss of each epoch finished so far."""
        with self._write():
            self.db.execute("UPDATE lm_trainings SET epoch_losses = ? WHERE id = ?", [json.dumps(losses), lm_id])

    def lm_trainings(self) -> list[dict]:
        return [self.lm_training(r["id"]) for r in self._rows("SELECT id FROM lm_trainings ORDER BY id")]

    def lm_training_into(self, out: str) -> dict | None:
        """The newest training whose model is written to ``out``."""
        row = self._row("SELECT id FROM lm_trainings WHERE out = ? ORDER BY id DESC LIMIT 1", [str(out)])
        return None if row is None else self.lm_training(row["id"])

    def delete_lm_training(self, lm_id: int) -> None:
        """Remove an LM training with its jobs (not the model folder)."""
        with self._write():
            self._delete_jobs("lm", lm_id)
            self.db.execute("DELETE FROM lm_trainings WHERE id = ?", [lm_id])
