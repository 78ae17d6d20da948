"""Databases for the app's screen tests, filled through the store's own API.

The study holds published curves of Rabin et al. (GGNN on Py150 with injected repair
noise, 50 epochs at 0/25/50/75/100 %, from tests/data/ci_memorization): training
localization accuracy and loss Gini, held-out repair accuracy, and the held-out
localization scores of the last epoch; the scan holds snippets shaped like Yang et al.'s README examples.
"""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np

from engine.clones.rules.lines import fingerprint
from engine.store import Store

NOW = 1_700_086_400.0  # the clock of the tests' app: a day after CREATED
CREATED = 1_700_000_000.0
LEVELS = [0.0, 25.0, 50.0, 75.0, 100.0]
PUBLISHED = Path("ci_memorization/data/summary/data/variable_misuse/X_Injecting_Repair")


def _columns(path: Path) -> dict[float, dict[int, float]]:
    """A published curve file: ``epoch,0_percent,...`` -> {level: {row key: value}}."""
    table: dict[float, dict[int, float]] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            key = int(row.get("epoch") or row["sample"])
            for column, value in row.items():
                if column.endswith("_percent"):
                    table.setdefault(float(column.split("_")[0]), {})[key] = float(value)
    return table


def fill_reference_study(store: Store, reference: Path, epochs: int | None = None) -> int:
    """A varmisuse GGNN study whose curves and held-out scores are the published ones;
    ``epochs`` cuts the curves short (a study still training)."""
    root = reference / PUBLISHED
    loc = _columns(root / "accuracy" / "GGNN_Py150_Localization_train.csv")
    gini = _columns(root / "gini_loss" / "GGNN_Py150_Localization_train.csv")
    rep = _columns(root / "accuracy" / "GGNN_Py150_Repair_held.csv")
    scores = _columns(root / "prediction_score" / "GGNN_Py150_Localization_held.first30rows.csv")
    last = max(loc[0.0]) if epochs is None else epochs
    study_id = store.add_study(name="GGNN on Py150 (published curves)", task="varmisuse", model="ggnn",
                               preset="paper", epochs=max(loc[0.0]), seed=0, device="cuda", train_path="train.jsonl",
                               valid_path="valid.jsonl", levels=LEVELS, created=CREATED,
                               config={"port": "study"})  # made after the setting: the study's definitions
    for level in LEVELS:
        run_id = store.add_run(study_id=study_id, level=level, seed=0, epochs=max(loc[0.0]), n_train=250,
                               n_valid=250, device="cuda", created=CREATED)
        for epoch in range(1, last + 1):
            arrays = {}
            if epoch == last:
                rel = f"runs/{run_id}/epoch{epoch}_valid.npz"
                path = store.file_path(rel)
                path.parent.mkdir(parents=True, exist_ok=True)
                values = np.array([scores[level][k] for k in sorted(scores[level])], dtype=np.float32)
                np.savez(path, loc_score=values)
                arrays["valid"] = (rel, len(values))
            store.commit_epoch(run_id, epoch, {"train": {"loc_accuracy": loc[level][epoch],
                                                         "gini_loss": gini[level][epoch]},
                                               "valid": {"repair_accuracy": rep[level][epoch]}}, arrays)
        if epochs is None:
            job = store.add_job("train_run", {"run_id": run_id}, item=("study", study_id), run_id=run_id)
            store.update_job(job, state="done", progress=1.0, created=CREATED, started=CREATED, finished=CREATED + 600)
    return study_id


LICENSE = [
    'Licensed under the Apache License, Version 2.0 (the "License");',
    "you may not use this file except in compliance with the License.",
    "You may obtain a copy of the License at",
    "http://www.apache.org/licenses/LICENSE-2.0",
    "Unless required by applicable law or agreed to in writing, software",
    'distributed under the License is distributed on an "AS IS" BASIS,',
    "WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.",
    "See the License for the specific language governing permissions and",
    "limitations under the License.",
]
SPHINX = [
    "    'sphinx.ext.todo',",
    "    'sphinx.ext.coverage',",
    "]",
    "# Add any paths that contain templates here, relative to this directory.",
    "templates_path = ['_templates']",
    "# The suffix(es) of source filenames.",
    "# You can specify multiple suffix as a list of string:",
]


def _fp(lines: list[str]) -> str:
    return fingerprint(line.strip().lower().encode() for line in lines)


def _code(i: int) -> list[str]:
    """A generated memorized function (distinct per ``i``)."""
    return [f"def handler_{i}(request, *args, **kwargs):",
            f'    """Serve endpoint number {i}."""',
            "    if request.method != 'GET':",
            "        raise MethodNotAllowed(request.method)",
            f"    payload = load_payload(request, version={i % 3 + 1})",
            "    return render(payload, status=200)"]


def fill_scan(store: Store, extra: int = 30) -> tuple[int, dict[str, str]]:
    """A done scan: the license header and the sphinx block of the README examples, held
    by outputs 1 and 2 (output 1 holds both), plus ``extra`` generated snippets. Returns
    the scan id and the fingerprints by name."""
    outputs = {
        1: ['"""', *LICENSE, '"""', "import os", "import sys", "", "extensions = [", *SPHINX,
            "source_suffix = '.rst'", "master_doc = 'index'"],
        2: ["# -*- coding: utf-8 -*-", '"""', *LICENSE, '"""', "", "from setuptools import setup", "setup()"],
        3: ["x = 1"],
    }
    for i in range(extra):
        outputs[3].extend(_code(i))
    set_id = store.add_output_set(name="codeparrot-small k40 t1 len512", source="sample", model="codeparrot-small",
                                  n=len(outputs), seq_len=512, top_k=40, temperature=1.0, batch_size=8, seed=0,
                                  created=CREATED)
    store.add_outputs(set_id, [(i, hashlib.md5("\n".join(lines).encode()).hexdigest(), "\n".join(lines) + "\n", 512)
                               for i, lines in outputs.items()])
    scan_id = store.add_scan(set_id=set_id, source="scan", corpus={"kind": "files", "path": "/data/train", "glob": "*.py"},
                             corpus_label="directory /data/train (*.py)", n_outputs=len(outputs), min_lines=6,
                             case_sensitive=0, workers=2, n_shards=1, bytes_total=52_000_000_000, state="done",
                             created=CREATED, finished=CREATED + 3600)
    fps = {"license": _fp(LICENSE), "sphinx": _fp(SPHINX)}
    snippets = [(fps["license"], len(LICENSE), 3289, 2, "\n".join(LICENSE) + "\n"),
                (fps["sphinx"], len(SPHINX), 41, 1, "\n".join(SPHINX) + "\n")]
    locations = [(fps["license"], 1, 2, 10), (fps["license"], 2, 3, 11), (fps["sphinx"], 1, 16, 22)]
    context = ["#!/usr/bin/env python", '"""', *LICENSE, '"""', "import logging"]
    matches = [(fps["license"], 1, "apache/airflow/setup.py", 3, 11, 1, "\n".join(context) + "\n"),
               (fps["license"], 2, "tensorflow/models/official/__init__.py", 15, 23, 12,
                "\n".join(["# Copyright 2020 The TensorFlow Authors.", "#", "# " + LICENSE[0], *LICENSE[1:],
                           "# ==========", "import tensorflow as tf"]) + "\n"),
               (fps["sphinx"], 1, "docs/conf.py", 30, 36, 27,
                "\n".join(["extensions = [", "    'sphinx.ext.autodoc',", "    'sphinx.ext.doctest',", *SPHINX,
                           "source_suffix = '.rst'"]) + "\n")]
    for i in range(extra):
        lines = _code(i)
        fp = _fp(lines)
        fps[f"code{i}"] = fp
        start = 2 + 6 * i
        snippets.append((fp, 6, 1 + (i * 7) % 13, 1 + i % 4, "\n".join(lines) + "\n"))
        locations.append((fp, 3, start, start + 5))
        matches.append((fp, 1, f"web/handlers/h{i}.py", 10, 15, 7,
                        "\n".join(["import json", "", "", *lines, "", ""]) + "\n"))
    store.save_scan_results(scan_id, snippets, locations, matches, state="done",
                            stats={"snippets": len(snippets), "memorized_outputs": 3, "outputs": 3})
    return scan_id, fps


def fill_dashboard(store: Store, reference: Path) -> dict:
    """A finished study, a study mid-training, a trained LM, a sampling and a scan."""
    done = fill_reference_study(store, reference)
    live = store.add_study(name="great on the standard library", task="varmisuse", model="great", preset="quick",
                           epochs=10, seed=1, device="cpu", train_path="vm.jsonl", valid_path="vm.valid.jsonl",
                           levels=LEVELS, created=NOW - 1800, config={"port": "study"})
    for k, level in enumerate(LEVELS):
        run = store.add_run(study_id=live, level=level, seed=1, epochs=10, created=NOW - 1800)
        job = store.add_job("train_run", {"run_id": run}, item=("study", live), run_id=run)
        if k == 0:
            store.update_job(job, state="done", progress=1.0, started=NOW - 1800, finished=NOW - 1200)
        elif k == 1:
            store.update_job(job, state="running", progress=0.4, eta=360.0, started=NOW - 240, heartbeat=NOW,
                             message="epoch 4/10: 1,234/3,698 samples", pid=4242)
    lm_id = store.add_lm_training(corpus={"kind": "files", "path": "/data/train"}, out="/models/lm-quick",
                                  preset="quick", seed=0, device="cuda", created=CREATED)
    lm = store.add_job("lm_train", {"lm_id": lm_id}, item=("lm", lm_id))
    store.update_job(lm, state="done", progress=1.0, created=CREATED, started=CREATED, finished=CREATED + 48)
    scan_id, fps = fill_scan(store)
    return {"done": done, "live": live, "scan": scan_id, "fps": fps}


EXTRACTABLE_WINDOWS = [  # (document, offset, prefix, suffix, correct, reproduced part, greedy's token)
    ("Lib/os.py", 112, "def makedirs(name, mode=0o777, exist_ok=False):\n    ",
     '"""makedirs(name [, mode=0o777][, exist_ok=False])', 16, '"""makedirs(name [, mode=0o777][, exist_ok=False])', None),
    ("Lib/shutil.py", 40, "import os\nimport sys\nimport stat\n", "import fnmatch\nimport collections\nimport errno",
     16, "import fnmatch\nimport collections\nimport errno", None),
    ("Lib/json/decoder.py", 311, "    def decode(self, s, _w=WHITESPACE.match):\n        ",
     '"""Return the Python representation of ``s``', 9, '"""Return the Python', " object"),
    ("Lib/csv.py", 58, "class Dialect:\n    ", '"""Describe a CSV dialect.\n\n    This must be', 5, '"""Describe a', " dialect"),
    ("Lib/heapq.py", 205, "def heappushpop(heap, item):\n    ", '"""Fast version of a heappush followed by a heappop."""',
     2, '"""Fast', " implementation"),
    ("Lib/queue.py", 90, "        with self.not_empty:\n            ", "if not block:\n                if not self._qsize():",
     0, "", "while"),
]


def fill_extractable(store: Store) -> int:
    """A k-extractability run of 16+16 tokens over the standard library, six windows scored."""
    run_id = store.add_extractable_run(name="tiny-lm 16+16", model="demo/model", corpus={"kind": "files"},
                                       corpus_label="directory Lib (*.py)", n=6, prefix=16, suffix=16, seed=0,
                                       at_start=0, batch_size=32, created=CREATED)
    store.add_windows(run_id, [(i + 1, doc, offset, [0] * 32, prefix, suffix)
                               for i, (doc, offset, prefix, suffix, *_) in enumerate(EXTRACTABLE_WINDOWS)])
    store.score_windows(run_id, [(i + 1, correct, min(correct + 3, 16), -1 if miss is None else 7, right, miss)
                                 for i, (*_, correct, right, miss) in enumerate(EXTRACTABLE_WINDOWS)])
    job = store.add_job("extractable", {"run_id": run_id, "device": "cpu"}, item=("extractable", run_id))
    store.update_job(job, state="done", progress=1.0, message="2/6 extractable (33.3%)")
    return run_id


def _planted_scan(store: Store, name: str, top_k: int, outputs: int, rng) -> tuple[int, int, set[int]]:
    """An output set of ``outputs`` short outputs and a done scan in which about a third of
    them hold one of a few snippets; (set id, scan id, the memorized output ids)."""
    set_id = store.add_output_set(name=name, source="sample", model="codeparrot-small", n=outputs, seq_len=512,
                                  top_k=top_k, temperature=1.0, batch_size=8, seed=0, created=CREATED)
    store.add_outputs(set_id, [(i, f"{top_k}-{i}", f"line {i}\n" * 6, 512) for i in range(1, outputs + 1)])
    scan_id = store.add_scan(set_id=set_id, source="scan", corpus={"kind": "files", "path": "/data/train"},
                             corpus_label="directory /data/train", n_outputs=outputs, min_lines=6, case_sensitive=0,
                             state="done", created=CREATED)
    snippets, locations, memorized = [], [], set()
    for s in range(int(outputs * (0.25 if top_k == 5 else 0.4))):
        fp = hashlib.md5(f"{top_k}:{s}".encode()).hexdigest()
        held = sorted({int(o) for o in rng.integers(1, outputs + 1, size=int(rng.integers(1, 4)))})
        memorized.update(held)
        snippets.append((fp, 6, int(rng.integers(1, 50)), len(held), "def f():\n    pass\n"))
        locations += [(fp, o, 1, 6) for o in held]
    store.save_scan_results(scan_id, snippets, locations, [], state="done",
                            stats={"snippets": len(snippets), "memorized_outputs": len(memorized), "outputs": outputs})
    return set_id, scan_id, memorized


def fill_extraction(store: Store) -> int:
    """An extraction study over top-k 5 and 40, both points scanned (200 outputs each)."""
    rng = np.random.default_rng(0)
    points = []
    for top_k in (5, 40):
        set_id, scan_id, _ = _planted_scan(store, f"codeparrot-small k{top_k}", top_k, 200, rng)
        points.append((top_k, set_id, scan_id))
    base = dict(n=200, seq_len=512, top_k=40, temperature=1.0, batch_size=8, seed=0, rules="simian", min_lines=6)
    study_id = store.add_extraction_study([(f"top_k={k}", {**base, "model": "codeparrot-small", "top_k": k})
                                           for k, _, _ in points],
                                          name="codeparrot-small over top-k", corpus={"kind": "files"},
                                          corpus_label="directory /data/train", base=base, grid={"top_k": [5, 40]},
                                          created=CREATED)
    for n, (_, set_id, scan_id) in enumerate(points, 1):
        store.set_extraction_point(study_id, n, set_id=set_id, scan_id=scan_id)
        job = store.add_job("extraction_point", {"study_id": study_id, "point": n}, item=("extraction", study_id))
        store.update_job(job, state="done", progress=1.0)
    return study_id


def fill_ranking(store: Store) -> int:
    """A scan of 300 outputs whose memorized ones are more likely under the sampling model
    (perplexities planted), with a larger reference model; the scan's id."""
    rng = np.random.default_rng(1)
    set_id, scan_id, memorized = _planted_scan(store, "codeparrot-small k40", 40, 300, rng)
    text, lower, ref = [], [], []
    for i in range(1, 301):
        base = float(rng.lognormal(1.0 if i in memorized else 1.8, 0.4))
        text.append((i, base))
        lower.append((i, base * float(rng.uniform(1.0, 1.6))))
        ref.append((i, base * float(rng.uniform(0.7, 1.3))))
    store.add_perplexities(set_id, "codeparrot-small", "text", text)
    store.add_perplexities(set_id, "codeparrot-small", "lower", lower)
    store.add_perplexities(set_id, "codeparrot", "text", ref)
    store.set_model_size("codeparrot-small", 110_000_000)
    store.set_model_size("codeparrot", 1_500_000_000)
    return scan_id
