"""An export writes only inside its folder, whatever names a crafted database holds."""
from __future__ import annotations

import pytest

from engine.errors import InputError
from engine.export import export_curves
from engine.store import Store


@pytest.mark.parametrize("metric", ["../../evil", "/tmp/evil", "a/../../evil", "acc\x1b]52;c;x\x07"])
def test_a_metric_name_that_is_no_plain_file_name_is_refused(tmp_path, metric):
    store = Store(tmp_path / "s.db")
    sid = store.add_study(name="s", task="varmisuse", model="ggnn", preset="quick", epochs=1, seed=0, device="cpu",
                          train_path="/d/train.jsonl", valid_path="/d/valid.jsonl", levels=[0.0], config={})
    run = store.add_run(study_id=sid, level=0.0, seed=0, epochs=1, epochs_done=0, train_path="t", changed_path="c")
    store.commit_epoch(run, 1, {"train": {metric: 0.5, "loc_accuracy": 0.4}}, {})
    out = tmp_path / "out" / "deep"
    with pytest.raises(InputError, match="not a plain file name"):
        export_curves(store, sid, out)
    assert not (tmp_path / "evil").exists() and not list(tmp_path.glob("out/**/*.csv"))
