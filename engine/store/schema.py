"""The schema of a byrote database: versioned migrations, run in order when a file opens.

``meta.schema_version`` says which have run; :data:`MIGRATIONS` maps each version to the
function that brings the schema from the one before. A migration never changes after it
ships: a new need is a new version.
"""
from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import sqlite_utils

SCHEMA_VERSION = 27
# version 3's indexes, one per sort order of the browser but the fingerprint's (the
# primary key's); tests/test_store.py checks that every order of
# engine.store.browse.SNIPPET_ORDERS has its index
SORT_INDEXES = {"train": "train DESC, fingerprint", "extract": "extract DESC, fingerprint",
                "len": "len DESC, fingerprint", "first_line": "first_line, fingerprint"}


def _migrate_1(db: sqlite_utils.Database) -> None:
    """Noise studies: studies, runs, jobs, per-epoch metrics and the index of per-sample arrays."""
    db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
    db["studies"].create(
        {
            "id": int, "name": str, "task": str, "model": str, "preset": str,
            "epochs": int, "seed": int, "device": str, "train_path": str,
            "valid_path": str, "levels": str, "config": str, "created": float,
        },
        pk="id", if_not_exists=True,
    )
    db["runs"].create(
        {
            "id": int, "study_id": int, "level": float, "seed": int,
            "train_path": str, "changed_path": str, "epochs": int,
            "epochs_done": int, "n_train": int, "n_valid": int, "n_dropped": int,
            "n_params": int, "device": str, "created": float,
        },
        pk="id", foreign_keys=[("study_id", "studies", "id")],
        defaults={"epochs_done": 0}, if_not_exists=True,
    )
    db["jobs"].create(
        {
            "id": int, "kind": str, "params": str, "state": str, "study_id": int,
            "run_id": int, "pid": int, "heartbeat": float, "progress": float,
            "eta": float, "message": str, "error": str, "cancel_requested": int,
            "attempts": int, "created": float, "started": float, "finished": float,
        },
        pk="id", defaults={"state": "queued", "progress": 0.0, "cancel_requested": 0, "attempts": 0},
        if_not_exists=True,
    )
    db["jobs"].create_index(["state"], if_not_exists=True)
    db["metrics"].create(
        {"run_id": int, "epoch": int, "split": str, "name": str, "value": float},
        pk=("run_id", "epoch", "split", "name"), if_not_exists=True,
    )
    db["arrays"].create(
        {"run_id": int, "epoch": int, "split": str, "path": str, "n": int},
        pk=("run_id", "epoch", "split"), if_not_exists=True,
    )


def _migrate_2(db: sqlite_utils.Database) -> None:
    """Memorization extraction: sampled outputs, scans, and memorized snippets."""
    db["output_sets"].create(
        {
            "id": int, "name": str, "source": str, "model": str, "n": int, "seq_len": int,
            "top_k": int, "temperature": float, "batch_size": int, "seed": int, "prompt": str,
            "config": str, "created": float,
        },
        pk="id", if_not_exists=True,
    )
    db["outputs"].create(
        {"set_id": int, "id": int, "md5": str, "text": str, "n_tokens": int},
        pk=("set_id", "id"), foreign_keys=[("set_id", "output_sets", "id")], if_not_exists=True,
    )
    db["scans"].create(
        {
            "id": int, "set_id": int, "source": str, "corpus": str, "corpus_label": str,
            "n_outputs": int, "min_lines": int, "case_sensitive": int, "workers": int, "n_shards": int,
            "bytes_total": int, "state": str, "stats": str, "created": float, "finished": float,
        },
        pk="id", if_not_exists=True,
    )
    db["scan_shards"].create(
        {"scan_id": int, "shard": int, "bytes": int, "docs": int, "skipped": int, "path": str, "finished": float},
        pk=("scan_id", "shard"), if_not_exists=True,
    )
    db["snippets"].create(
        {"scan_id": int, "fingerprint": str, "len": int, "train": int, "extract": int, "text": str},
        pk=("scan_id", "fingerprint"), if_not_exists=True,
    )
    for column in ("train", "extract", "len"):
        db["snippets"].create_index(["scan_id", column], if_not_exists=True)
    db["snippet_outputs"].create(
        {"scan_id": int, "fingerprint": str, "output_id": int, "start_line": int, "end_line": int},
        pk=("scan_id", "fingerprint", "output_id", "start_line"), if_not_exists=True,
    )
    db["snippet_outputs"].create_index(["scan_id", "output_id"], if_not_exists=True)
    db["snippet_matches"].create(
        {
            "scan_id": int, "fingerprint": str, "rank": int, "doc": str, "start_line": int,
            "end_line": int, "context_start": int, "context": str,
        },
        pk=("scan_id", "fingerprint", "rank"), if_not_exists=True,
    )


def has_trigram(db: sqlite_utils.Database) -> bool:
    """Whether this SQLite builds FTS5 trigram indexes (3.34 and later, with FTS5)."""
    try:
        db.execute("CREATE VIRTUAL TABLE temp._probe USING fts5(x, tokenize='trigram')")
        db.execute("DROP TABLE temp._probe")
        return True
    except sqlite3.OperationalError:
        return False


def _migrate_3(db: sqlite_utils.Database) -> None:
    """The memorization browser: a first-line column, one index per sort key with the
    fingerprint as tie-break (keyset paging), and a trigram index of snippet texts."""
    db.execute("ALTER TABLE snippets ADD COLUMN first_line TEXT")  # filled by migration 24
    for column in ("train", "extract", "len"):
        db.execute(f"DROP INDEX IF EXISTS idx_snippets_scan_id_{column}")
    for key, columns in SORT_INDEXES.items():
        db.execute(f"CREATE INDEX IF NOT EXISTS snippets_by_{key} ON snippets(scan_id, {columns})")
    if has_trigram(db):
        db.execute(
            "CREATE VIRTUAL TABLE snippet_text USING fts5(text, content='snippets', content_rowid='rowid', "
            "tokenize='trigram', detail='none')"
        )
        db.execute("INSERT INTO snippet_text(snippet_text) VALUES ('rebuild')")
        # the index follows the table whoever writes it
        db.execute("CREATE TRIGGER snippet_text_insert AFTER INSERT ON snippets BEGIN "
                   "INSERT INTO snippet_text(rowid, text) VALUES (new.rowid, new.text); END")
        db.execute("CREATE TRIGGER snippet_text_delete AFTER DELETE ON snippets BEGIN "
                   "INSERT INTO snippet_text(snippet_text, rowid, text) VALUES ('delete', old.rowid, old.text); END")
        db.execute("CREATE TRIGGER snippet_text_update AFTER UPDATE OF text ON snippets BEGIN "
                   "INSERT INTO snippet_text(snippet_text, rowid, text) VALUES ('delete', old.rowid, old.text); "
                   "INSERT INTO snippet_text(rowid, text) VALUES (new.rowid, new.text); END")


JOB_COLUMNS = ("id", "kind", "params", "state", "run_id", "pid", "heartbeat", "progress", "eta", "message", "error",
               "cancel_requested", "attempts", "created", "started", "finished")


def _migrate_4(db: sqlite_utils.Database) -> None:
    """Jobs name their item, ``(item_kind, item_id)``: a study, an LM training, a sampling
    (output set), a scan or the demo. Before, a study's jobs had a column, samplings and
    scans a parameter, LM trainings nothing; those get a table of their own."""
    db["lm_trainings"].create(
        {"id": int, "out": str, "corpus": str, "preset": str, "settings": str, "seed": int, "device": str,
         "created": float},
        pk="id",
    )
    db["jobs_v4"].create(
        {
            "id": int, "kind": str, "params": str, "state": str, "item_kind": str, "item_id": int, "run_id": int,
            "pid": int, "heartbeat": float, "progress": float, "eta": float, "message": str, "error": str,
            "cancel_requested": int, "attempts": int, "created": float, "started": float, "finished": float,
        },
        pk="id", defaults={"state": "queued", "progress": 0.0, "cancel_requested": 0, "attempts": 0},
    )
    columns = ", ".join(JOB_COLUMNS)
    db.execute(
        f"INSERT INTO jobs_v4 ({columns}, item_kind, item_id) SELECT {columns}, "
        "CASE kind WHEN 'train_run' THEN 'study' WHEN 'sample' THEN 'sampling' WHEN 'scan' THEN 'scan' "
        "WHEN 'demo' THEN 'demo' END, "
        "CASE kind WHEN 'train_run' THEN study_id WHEN 'sample' THEN json_extract(params, '$.set_id') "
        "WHEN 'scan' THEN json_extract(params, '$.scan_id') WHEN 'demo' THEN 1 END FROM jobs"
    )
    db.execute("UPDATE jobs_v4 SET item_kind = NULL WHERE item_id IS NULL")  # a job that named no item
    for job_id, params, created in db.execute(
            "SELECT id, params, created FROM jobs WHERE kind = 'lm_train' ORDER BY id").fetchall():
        try:
            p = json.loads(params or "{}")
        except ValueError:
            p = {}
        p = p if isinstance(p, dict) else {}
        lm_id = db["lm_trainings"].insert({
            "out": p.get("out"), "corpus": json.dumps(p.get("corpus")), "preset": p.get("preset"),
            "settings": json.dumps(p.get("settings") or {}), "seed": p.get("seed", 0), "device": p.get("device"),
            "created": created,
        }).last_pk
        db.execute("UPDATE jobs_v4 SET item_kind = 'lm', item_id = ?, params = ? WHERE id = ?",
                   [lm_id, json.dumps({"lm_id": lm_id}), job_id])
    db.execute("DROP TABLE jobs")
    db.execute("ALTER TABLE jobs_v4 RENAME TO jobs")
    db["jobs"].create_index(["state"])
    db["jobs"].create_index(["item_kind", "item_id"])


def _migrate_5(db: sqlite_utils.Database) -> None:
    """Scans name their rule set (engine.clones.rules): the scans made before ran byrote's
    own ``lines`` rules; an imported Simian log is Simian's."""
    db.execute("ALTER TABLE scans ADD COLUMN rules TEXT")
    db.execute("UPDATE scans SET rules = CASE source WHEN 'simian' THEN 'simian' ELSE 'lines' END")


def _migrate_6(db: sqlite_utils.Database) -> None:
    """A scan's shards record how long their filter pass took, in wall-clock and CPU
    seconds of the worker (NULL for the shards filtered before)."""
    db.execute("ALTER TABLE scan_shards ADD COLUMN seconds REAL")
    db.execute("ALTER TABLE scan_shards ADD COLUMN cpu_seconds REAL")


LEGACY_DEFINITIONS = {
    "varmisuse": {"score": "predicted", "objective": "sum", "train_eval": "pass"},
    "methodname": {"score": "full", "train_eval": "pass", "noise_rounding": "half_up"},
}
"""What the studies made before migration 7 computed (byrote's first definitions): the
largest per-variable repair mass, code2vec's full softmax, the mean of L_loc + L_rep,
training figures from an eval-mode pass, method-name noise counts rounded half up."""


def _migrate_7(db: sqlite_utils.Database) -> None:
    """Studies name the definitions they were made with (engine.presets.CHOICES): the
    studies made before keep their results and are marked with byrote's first definitions
    (:data:`LEGACY_DEFINITIONS`), so the app and the exports say which they used."""
    for row in list(db.query("SELECT id, task, config FROM studies")):
        config = json.loads(row["config"] or "{}")
        for key, value in LEGACY_DEFINITIONS.get(row["task"], {}).items():
            config.setdefault(key, value)
        db.execute("UPDATE studies SET config = ? WHERE id = ?", [json.dumps(config), row["id"]])


def _migrate_8(db: sqlite_utils.Database) -> None:
    """Repeated trials: each run is trial 0, 1, ... of its noise level (the studies made
    before have one trial, 0)."""
    db.execute("ALTER TABLE runs ADD COLUMN trial INTEGER NOT NULL DEFAULT 0")


def _migrate_9(db: sqlite_utils.Database) -> None:
    """A failed job says whether its input or its machine was at fault (``input``: bad
    input found late, a full or read-only disk; the command that followed it exits 2) or
    byrote was (``bug``: the traceback is in the worker's log). Failures before are bugs."""
    db.execute("ALTER TABLE jobs ADD COLUMN failure TEXT")
    db.execute("UPDATE jobs SET failure = 'bug' WHERE state = 'failed'")


def _migrate_10(db: sqlite_utils.Database) -> None:
    """The slot a running job holds in a worker with several (engine.slots)."""
    db.execute("ALTER TABLE jobs ADD COLUMN slot INTEGER")


def _migrate_11(db: sqlite_utils.Database) -> None:
    """Code-search and code-to-text studies decay their learning rate linearly, as
    CodeXGLUE's scripts do (engine.study.build_training); those made before trained at a
    constant rate and say so (``lr_schedule=constant``)."""
    for row in list(db.query("SELECT id, config FROM studies WHERE task IN ('codesearch', 'codetotext')")):
        config = json.loads(row["config"] or "{}")
        config.setdefault("lr_schedule", "constant")
        db.execute("UPDATE studies SET config = ? WHERE id = ?", [json.dumps(config), row["id"]])


def _migrate_12(db: sqlite_utils.Database) -> None:
    """The trigram index of snippet texts is written by the store, a scan's texts in one
    statement (``ScansMixin._text_index``), no longer by triggers row by row: through a
    trigger FTS5 flushes its pending terms at every row, and saving 43,000 snippets took
    8.5 s instead of 2.2 s (bench/scan.py's corpus)."""
    for name in ("insert", "delete", "update"):
        db.execute(f"DROP TRIGGER IF EXISTS snippet_text_{name}")


def _migrate_13(db: sqlite_utils.Database) -> None:
    """A scan may be named (``byrote scan --name``, the scan form): two scans of one folder
    tell apart on the dashboard. Scans made before have none and show their corpus."""
    db.execute("ALTER TABLE scans ADD COLUMN name TEXT")


def _migrate_14(db: sqlite_utils.Database) -> None:
    """Each job's log: its start, its progress at each epoch or stage, its warnings, and
    how it ended (a failure's traceback too), for the app's log pane and ``byrote log``."""
    db.execute("CREATE TABLE job_log (id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL, time REAL NOT NULL, "
               "level TEXT NOT NULL, text TEXT NOT NULL)")
    db.execute("CREATE INDEX job_log_by_job ON job_log(job_id, id)")


def _migrate_15(db: sqlite_utils.Database) -> None:
    """The worker's machine, sampled every few seconds (engine.machine): CPU share, memory,
    and each GPU's memory and utilisation as JSON; the last hour is kept."""
    db.execute("CREATE TABLE machine (time REAL NOT NULL, pid INTEGER, cpu REAL, ram_used REAL, ram_total REAL, "
               "gpus TEXT)")
    db.execute("CREATE INDEX machine_by_time ON machine(time)")


def _migrate_16(db: sqlite_utils.Database) -> None:
    """An LM training's mean loss of each epoch finished (JSON list), for its loss curve."""
    db.execute("ALTER TABLE lm_trainings ADD COLUMN epoch_losses TEXT")


def _migrate_17(db: sqlite_utils.Database) -> None:
    """k-extractability runs (engine.extractable): the model, the corpus (its spec), the
    window settings; and their windows: document, token offset, the window's token ids
    (JSON), its prefix and suffix as text, and, once scored, the longest correct greedy
    prefix, the teacher-forced matches, the greedy token at the first miss, and as text
    the correct part of the suffix and that token (the app imports no tokenizer)."""
    db.execute("CREATE TABLE extractable_runs (id INTEGER PRIMARY KEY, name TEXT, model TEXT NOT NULL, "
               "corpus TEXT NOT NULL, corpus_label TEXT, n INTEGER NOT NULL, prefix INTEGER NOT NULL, "
               "suffix INTEGER NOT NULL, seed INTEGER NOT NULL, at_start INTEGER NOT NULL, "
               "batch_size INTEGER NOT NULL, config TEXT, created REAL)")
    db.execute("CREATE TABLE extractable_windows (run_id INTEGER NOT NULL, id INTEGER NOT NULL, doc TEXT NOT NULL, "
               "offset INTEGER NOT NULL, ids TEXT NOT NULL, prefix_text TEXT, suffix_text TEXT, correct INTEGER, "
               "matches INTEGER, miss_token INTEGER, correct_text TEXT, miss_text TEXT, PRIMARY KEY (run_id, id))")


def _migrate_18(db: sqlite_utils.Database) -> None:
    """Each output's perplexity under a model, of its text or of its lower-cased text
    (engine.ranking), to rank outputs by the extraction study's signals."""
    db.execute("CREATE TABLE output_perplexity (set_id INTEGER NOT NULL, output_id INTEGER NOT NULL, "
               "model TEXT NOT NULL, variant TEXT NOT NULL, ppl REAL, "
               "PRIMARY KEY (set_id, model, variant, output_id))")


def _migrate_19(db: sqlite_utils.Database) -> None:
    """Personal data and secrets in memorized snippets (engine.pii): each find, and on the
    snippet the kinds found (comma-separated, NULL for none), for the browser's column and
    filter. Scans saved before have none until ``byrote pii --scan ID`` looks."""
    db.execute("ALTER TABLE snippets ADD COLUMN pii TEXT")
    db.execute("CREATE TABLE snippet_pii (scan_id INTEGER NOT NULL, fingerprint TEXT NOT NULL, kind TEXT NOT NULL, "
               "value TEXT NOT NULL, start INTEGER NOT NULL)")
    db.execute("CREATE INDEX snippet_pii_by_snippet ON snippet_pii(scan_id, fingerprint)")


def _migrate_20(db: sqlite_utils.Database) -> None:
    """An output set's temperature schedule (engine.sample.SCHEDULES; NULL: the constant
    temperature), part of what names a sampled set."""
    db.execute("ALTER TABLE output_sets ADD COLUMN schedule TEXT")


def _migrate_21(db: sqlite_utils.Database) -> None:
    """Extraction studies (engine.extraction): a corpus, base sampling and scan settings and
    a grid (JSON); their points, each with its settings, output set and scan."""
    db.execute("CREATE TABLE extraction_studies (id INTEGER PRIMARY KEY, name TEXT, corpus TEXT NOT NULL, "
               "corpus_label TEXT, base TEXT NOT NULL, grid TEXT NOT NULL, created REAL)")
    db.execute("CREATE TABLE extraction_points (study_id INTEGER NOT NULL, point INTEGER NOT NULL, label TEXT, "
               "settings TEXT NOT NULL, set_id INTEGER, scan_id INTEGER, PRIMARY KEY (study_id, point))")


def _migrate_22(db: sqlite_utils.Database) -> None:
    """Each scored model's parameter count (recorded by its perplexity job): the ranking
    signal ``ratio`` divides the smaller model's log perplexity by the larger's."""
    db.execute("CREATE TABLE model_sizes (model TEXT PRIMARY KEY, parameters INTEGER NOT NULL)")


def _migrate_23(db: sqlite_utils.Database) -> None:
    """Prompted output sets (``byrote sample --prompts``): the prompts of a set, each with
    the training document and offset it was taken from when it was; on the set, what
    names its prompts (their hash and the outputs per prompt)."""
    db.execute("ALTER TABLE output_sets ADD COLUMN prompts TEXT")
    db.execute("CREATE TABLE set_prompts (set_id INTEGER NOT NULL, id INTEGER NOT NULL, text TEXT NOT NULL, "
               "doc TEXT, offset INTEGER, PRIMARY KEY (set_id, id))")


def _migrate_24(db: sqlite_utils.Database) -> None:
    """A snippet's first line (:func:`~engine.store.browse.first_line`) without the white
    space around it, as the browser shows it, so that it sorts as shown; and whole past a
    NUL character, where SQLite's text functions had cut it."""
    from engine.store.browse import first_line

    db.conn.create_function("byrote_first_line", 1, first_line, deterministic=True)
    db.execute("UPDATE snippets SET first_line = byrote_first_line(text)")


def _migrate_25(db: sqlite_utils.Database) -> None:
    """The ``decay`` temperature schedule samples past end-of-text, as the study's own loop
    does (engine.sample.SCHEDULES); the sets made before stopped at it and are renamed
    ``decay-at-eos``, so that resuming or enlarging one keeps what it holds, and a new
    ``decay`` sampling never continues one."""
    db.execute("UPDATE output_sets SET schedule = 'decay-at-eos' WHERE schedule = 'decay'")


def _migrate_26(db: sqlite_utils.Database) -> None:
    """A perplexity is of the text as ``eva.py`` reads it back from its file, carriage
    returns as newlines (engine.ranking.collapsed); those of outputs holding one were of
    other text and are dropped, so that a perplexity job computes them again."""
    db.conn.create_function("byrote_has_cr", 1, lambda text: text is not None and "\r" in text, deterministic=True)
    db.execute("DELETE FROM output_perplexity WHERE EXISTS (SELECT 1 FROM outputs o WHERE o.set_id = "
               "output_perplexity.set_id AND o.id = output_perplexity.output_id AND byrote_has_cr(o.text))")


def _migrate_27(db: sqlite_utils.Database) -> None:
    """Whether a sampled set's outputs are decoded with transformers'
    ``clean_up_tokenization_spaces`` (engine.sample.sample_batch), part of what names the
    set. The sets sampled before kept the tokenizer's text: 0; imported sets: NULL. The
    extraction studies made before say 0 in their base and every point's settings, so that
    their points go on naming the sets they sampled."""
    db.execute("ALTER TABLE output_sets ADD COLUMN clean_up INTEGER")
    db.execute("UPDATE output_sets SET clean_up = 0 WHERE source = 'sample'")
    db.execute("UPDATE extraction_studies SET base = json_set(base, '$.clean_up', 0)")
    db.execute("UPDATE extraction_points SET settings = json_set(settings, '$.clean_up', 0)")


# version -> migration that brings the schema from version-1 to version.
MIGRATIONS: dict[int, Callable[[sqlite_utils.Database], None]] = {
    1: _migrate_1, 2: _migrate_2, 3: _migrate_3, 4: _migrate_4, 5: _migrate_5, 6: _migrate_6, 7: _migrate_7, 8: _migrate_8,
    9: _migrate_9, 10: _migrate_10, 11: _migrate_11, 12: _migrate_12, 13: _migrate_13, 14: _migrate_14, 15: _migrate_15, 16: _migrate_16,
    17: _migrate_17, 18: _migrate_18, 19: _migrate_19, 20: _migrate_20,
    21: _migrate_21, 22: _migrate_22, 23: _migrate_23, 24: _migrate_24, 25: _migrate_25, 26: _migrate_26, 27: _migrate_27,
}
