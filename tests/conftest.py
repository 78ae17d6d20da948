"""Shared fixtures and helpers: the reference data of tests/data, a fresh store per test,
the app under Textual's Pilot (``app_pilot``, ``settle``), and the light-import check
(``run_light``: code in a fresh interpreter that must not import torch and the like)."""
from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "tests" / "data"  # slices of shared/reference (see its README)
HEAVY = ("torch", "transformers", "datasets")  # what the faces never import
GREAT = ("dev__VARIABLE_MISUSE__SStuB.txt-00038-of-00300.first3.jsonl",
         "dev__VARIABLE_MISUSE__SStuB.txt-00261-of-00300.buggy3.jsonl")
NOW = 1_700_000_100.0  # the app's clock in the tests


@pytest.fixture
def reference() -> Path:
    if not REFERENCE.exists():
        pytest.fail(f"reference data missing at {REFERENCE}")
    return REFERENCE


@pytest.fixture
def store(tmp_path):
    from engine.store import Store

    s = Store(tmp_path / "byrote.db")
    yield s
    s.close()


@pytest.fixture(autouse=True)
def no_default_database(tmp_path, monkeypatch):
    """No test may touch the user's default database or settings: point $BYROTE_DB and
    $BYROTE_CONFIG into tmp."""
    monkeypatch.setenv("BYROTE_DB", str(tmp_path / "default-byrote.db"))
    monkeypatch.setenv("BYROTE_CONFIG", str(tmp_path / "config"))  # nor the user's settings (tui.settings)


@pytest.fixture
def great_files(reference, tmp_path) -> tuple[Path, Path]:
    """Six GREAT samples (three bug-free, three buggy) as a training and a held-out file."""
    lines = [line for name in GREAT for line in (reference / "great" / name).read_text().splitlines()]
    train, valid = tmp_path / "train.jsonl", tmp_path / "valid.jsonl"
    train.write_text("\n".join(lines) + "\n")
    valid.write_text("\n".join(lines[1:5]) + "\n")
    return train, valid


# -- the app under Textual's Pilot -------------------------------------------------------
async def settle(pilot) -> None:
    """Until no worker runs: each read's result shown, and what showing it started done too
    (a polled screen starts reads on its own: at most 20 rounds)."""
    import asyncio

    from textual.worker import WorkerCancelled, WorkerState

    async def finished(worker) -> None:  # a poll's newer read may cancel an older one meanwhile
        try:
            await worker.wait()
        except WorkerCancelled:
            pass

    app = pilot.app
    for _ in range(20):
        await pilot.pause()
        running = [w for w in app.workers if w.state in (WorkerState.PENDING, WorkerState.RUNNING)]
        if not running:
            break
        await asyncio.gather(*(finished(w) for w in running if w.state != WorkerState.PENDING))
    await pilot.pause()


def make_app(db: Path, screen: Callable[[], object] | None = None, *, clock: Callable[[], float] = lambda: NOW,
             spawn_worker: Callable | None = None, poll_s: float = 0.25):
    """The app on ``db`` with a fixed clock and no worker (``spawn_worker`` records the
    calls when given); opened on ``screen()``, over a blank screen to go back to, instead
    of the dashboard when ``screen`` is given."""
    from textual.screen import Screen

    from tui.app import ByroteApp

    class AppUnderTest(ByroteApp):
        def on_mount(self, event) -> None:
            if screen is None:
                return  # the dashboard, as the app opens
            event.prevent_default()
            self.push_screen(Screen())
            self.push_screen(screen())

    return AppUnderTest(db, clock=clock, spawn_worker=(lambda store: None) if spawn_worker is None else spawn_worker,
                        poll_s=poll_s)


def run_app(app, body: Callable[..., Awaitable[None]], size: tuple[int, int] = (80, 24)) -> None:
    """``await body(app, pilot)`` in ``app`` at ``size``, once its first reads have shown."""

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await body(app, pilot)

    asyncio.run(main())


@pytest.fixture
def app_pilot():
    """``app_pilot(db, body, size=(80, 24), screen=None, **options)``: ``body(app, pilot)``
    in :func:`make_app` ``(db, screen, **options)``, once its first reads have shown."""

    def run(db: Path, body: Callable[..., Awaitable[None]], size: tuple[int, int] = (80, 24),
            screen: Callable[[], object] | None = None, **options) -> None:
        run_app(make_app(db, screen, **options), body, size)

    return run


# -- light imports -----------------------------------------------------------------------
def run_light(code: str, timeout: float = 120) -> str:
    """Run ``code`` in a fresh interpreter (the repository and tests/ importable), assert
    that it succeeds without importing torch, transformers or datasets; its output."""
    path = f"import sys\nsys.path.insert(0, {str(REPO / 'tests')!r})\n"
    check = f"\nprint('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])\n"
    proc = subprocess.run([sys.executable, "-c", path + code + check], capture_output=True, text=True, cwd=REPO,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout, proc.stdout
    return proc.stdout


@pytest.fixture(scope="session")
def memorizer(tmp_path_factory) -> Path:
    """A small GPT-2 that reproduces the documents of ``memorizer.MEMORIZED`` (tests/memorizer.py)."""
    from memorizer import train_memorizer

    return train_memorizer(tmp_path_factory)


@pytest.fixture
def without_masking_extra(monkeypatch):
    """nltk and pluralizer (the optional ``masking`` extra) cannot be imported, and the
    word forms are looked up afresh before and after."""
    import builtins

    from engine.noise import token_masking

    real_import = builtins.__import__

    def blocked(name, *args, **kwargs):
        if name.split(".")[0] in ("nltk", "pluralizer"):
            raise ImportError(f"No module named {name!r}", name=name.split(".")[0])
        return real_import(name, *args, **kwargs)

    token_masking.nltk_word_forms.cache_clear()
    monkeypatch.setattr(builtins, "__import__", blocked)
    yield
    monkeypatch.undo()
    token_masking.nltk_word_forms.cache_clear()


def noise_rate_rows(store, study_id: int, capsys) -> list[dict]:
    """Train every run of a study, then ``byrote noise-rate --kfold 2 --json``'s rows."""
    import json

    from cli.main import main
    from engine.study import train_run

    for run in store.runs(study_id):
        train_run(store, run["id"])
    assert main(["--db", str(store.path), "noise-rate", "--study", str(study_id), "--kfold", "2", "--foreground",
                 "--json"]) == 0
    out = capsys.readouterr().out
    return json.loads(out[out.index("["):])
