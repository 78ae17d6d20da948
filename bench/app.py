"""The app's speed: time to first frame, and the memorization browser on 1,000,000 fingerprints.

    .venv/bin/python bench/app.py [--snippets 1000000] [--runs 5] [--keep DIR]

1. First frame: ``byrote --db FILE`` is started in a pseudo-terminal of 80x24 and timed
   until the dashboard's footer is drawn; the baseline is ``python -c "import torch"``,
   what the app would pay if it imported the engine's training half.
2. Browser: a store is filled with N generated snippets (windows of 6-20 real lines of
   this Python's standard library, with skewed train/extract counts, through
   ``Store.save_scan_results``: the scan's own path, text index included). Then:
   - a page: the first, one in the middle reached by keyset, and the last, against
     the same pages read with OFFSET (``Store.snippets``), the baseline;
   - a filter plus its first page: a fingerprint prefix, a rare identifier, a common
     word, against the same text filters without the trigram index (a full scan);
   - the app: the browser screen opened on the store, paging and filtering under Pilot.
3. Dashboard with many items (issue 16): a store of 1,000 items (studies with runs and
   jobs, samplings, scans) against one of 10 (the baseline): the overview read, the first
   paint under Pilot, and a filter typed key by key (each key to its rows in the table).
4. Overlay of 5 studies x 5 levels x 50 epochs: the plot drawn (plotext included) after
   opening and after each of the keys y, s, m, t.
Targets (issue 5): first frame under 1 s; a page and a filter under 50 ms. Issue 16: every
key to its repaint under 100 ms.

    .venv/bin/python bench/app.py --only dashboard|overlay   (those figures alone)
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from engine.store import Store  # noqa: E402
from engine.store.browse import order_by  # noqa: E402


def timed(fn, repeat: int = 5) -> float:
    """Median seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def first_frame(db: Path, runs: int) -> tuple[float, float]:
    from ptyapp import PtyApp, byrote

    frames = []
    for _ in range(runs):
        app = PtyApp(byrote(db))
        frames.append(app.wait_for("Quit", timeout=30))
        app.send("q")
        app.finish()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return statistics.median(frames), time.perf_counter() - t0


def stdlib_lines(limit_files: int = 3000) -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    lines: list[str] = []
    for path in sorted(root.rglob("*.py"))[:limit_files]:
        try:
            lines += path.read_text(encoding="utf-8").splitlines()
        except (UnicodeDecodeError, OSError):
            continue
    return [line for line in lines if line.strip()]


def fill(store: Store, n: int, seed: int = 0) -> int:
    """A done scan of ``n`` distinct snippets; returns its id."""
    rng = random.Random(seed)
    lines = stdlib_lines()
    set_id = store.add_output_set(name="bench", source="import", model=None, n=1)
    store.add_outputs(set_id, [(1, hashlib.md5(b"x").hexdigest(), "x\n", None)])
    scan_id = store.add_scan(set_id=set_id, source="scan", corpus={"path": "bench"}, corpus_label="generated",
                             n_outputs=1, min_lines=6, state="running")
    seen: set[str] = set()

    def snippets():
        while len(seen) < n:
            k = rng.randint(6, 20)
            start = rng.randrange(len(lines) - k)
            text = "\n".join(lines[start:start + k]) + "\n"
            fp = hashlib.md5(text.encode()).hexdigest()
            if fp in seen:
                continue
            seen.add(fp)
            train = min(int(rng.paretovariate(1.2)), 10_000)
            extract = min(int(rng.paretovariate(1.5)), 1_000)
            yield fp, k, train, extract, text

    store.save_scan_results(scan_id, snippets(), [], [], state="done", finished=time.time())
    return scan_id


def offset_page(store: Store, scan_id: int, order: str, offset: int) -> list:
    """The baseline: the same page read with OFFSET, which walks every row before it."""
    return store.db.execute(f"SELECT fingerprint, len, train, extract, first_line FROM snippets WHERE scan_id = ? "
                            f"ORDER BY {order_by(order)} LIMIT 100 OFFSET ?", [scan_id, offset]).fetchall()


def page_figures(store: Store, scan_id: int, n: int) -> list[tuple[str, float, float | None]]:
    """(what, seconds, baseline seconds) for pages in each order."""
    out = []
    flt = store.snippet_filter(scan_id)
    for order in ("train", "len", "first_line", "fingerprint"):
        first = store.snippet_page(flt, order, limit=100)
        out.append((f"page 1, by {order}", timed(lambda: store.snippet_page(flt, order, limit=100)),
                    timed(lambda: offset_page(store, scan_id, order, 0))))
        # walk to the middle by keyset pages of 10,000 (not timed), then time one page there
        row = first[-1]
        for _ in range(n // 2 // 10_000):
            row = store.snippet_page(flt, order, after=row, limit=10_000)[-1]
        middle = n // 2
        out.append((f"page at row {middle:,}, by {order}",
                    timed(lambda: store.snippet_page(flt, order, after=row, limit=100)),
                    timed(lambda: offset_page(store, scan_id, order, middle), 3)))
        out.append((f"last page, by {order}", timed(lambda: store.snippet_page(flt, order, last=True, limit=100)),
                    timed(lambda: offset_page(store, scan_id, order, n - 100), 3)))
    return out


def filter_figures(store: Store, scan_id: int) -> list[tuple[str, float, float | None, int]]:
    """(what, seconds for filter + first page, baseline without the text index, matches)."""
    some = store.snippet_page(store.snippet_filter(scan_id), "fingerprint", limit=1)[0]["fingerprint"]
    queries = [("prefix", some[:4], ""), ("rare identifier", "", "_bootstrap_inner"),
               ("identifier", "", "isinstance("), ("common word", "", "return"),
               ("phrase of common trigrams", "", "def __init__(self, name")]
    out = []
    for label, prefix, text in queries:
        def run(store=store):
            flt = store.snippet_filter(scan_id, prefix=prefix, text=text)
            return store.snippet_page(flt, "train", limit=100)

        seconds = timed(run)
        count = store.snippet_filter_count(store.snippet_filter(scan_id, prefix=prefix, text=text))
        baseline = None
        if text:
            store.has_text_index = False
            baseline = timed(run, 3)
            store.has_text_index = True
        out.append((f"{label} {prefix or text!r}", seconds, baseline, count))
    return out


def app_figures(db: Path, scan_id: int) -> list[tuple[str, float]]:
    """The browser screen under Pilot, timed inside the app: from the key's handler to
    the rows put in the table (a filter's count arrives later, from a worker of its own).
    The screen's own methods are wrapped to take the times."""
    from tui.app import ByroteApp
    from tui.screens import browser

    marks: dict[str, float] = {}

    def mark(name, method, after=False):
        def wrapped(self, *args, **kwargs):
            if not after:
                marks[name] = time.perf_counter()
            result = method(self, *args, **kwargs)
            if after:
                marks[name] = time.perf_counter()
            return result
        return wrapped

    screen_class = browser.BrowserScreen
    screen_class._apply_filter = mark("asked", screen_class._apply_filter)
    screen_class._request = mark("asked", screen_class._request)
    screen_class._fill = mark("filled", screen_class._fill, after=True)
    figures = []

    async def main() -> None:
        app = ByroteApp(db, spawn_worker=lambda store: None, poll_s=60)
        async with app.run_test(size=(160, 48)) as pilot:
            async def settle() -> None:
                for _ in range(3):
                    await pilot.pause(0.02)
                    await app.workers.wait_for_complete()

            await settle()
            app.open_scan(scan_id)
            await settle()
            figures.append(("open: first page in the table", marks["filled"] - marks["asked"]))
            steps = []
            for _ in range(8):  # every 100 rows the cursor leaves the loaded rows: a page read
                marks.clear()
                await pilot.press("pagedown")
                await settle()
                if "asked" in marks:
                    steps.append(marks["filled"] - marks["asked"])
            figures.append((f"next page (median of {len(steps)} reads)", statistics.median(steps)))
            for query in ("isinstance(", "_bootstrap_inner", "return", "#0000"):
                await pilot.press("slash", *query)
                marks.clear()
                await pilot.press("enter")
                await settle()
                figures.append((f"filter {query!r}", marks["filled"] - marks["asked"]))
                await pilot.press("escape")  # clear it
                await settle()

    asyncio.run(main())
    return figures


def fill_items(store: Store, n: int) -> None:
    """``n`` dashboard items: two fifths studies (two runs, their jobs in every state), the
    rest samplings and scans, half each."""
    states = ("done", "running", "queued", "failed", "cancelled")
    studies = 2 * n // 5
    for i in range(studies):
        sid = store.add_study(name=f"study {i} varmisuse ggnn", task="varmisuse", model="ggnn", preset="quick",
                              epochs=5, seed=i, device="cpu", train_path="/d/t.jsonl", valid_path="/d/v.jsonl",
                              levels=[0.0, 100.0], created=time.time() - i)
        for level in (0.0, 100.0):
            run = store.add_run(study_id=sid, level=level, seed=i, epochs=5, epochs_done=i % 5)
            job = store.add_job("train_run", {"run_id": run}, item=("study", sid), run_id=run)
            store.update_job(job, state=states[i % 5], progress=(i % 5) / 5)
    for i in range((n - studies) // 2):
        set_id = store.add_output_set(name=f"set {i} gpt2 k40", source="sample", model="gpt2", n=100, seq_len=64,
                                      top_k=40, temperature=1.0, batch_size=8, seed=i)
        store.update_job(store.add_job("sample", {"set_id": set_id, "device": "cpu"}, item=("sampling", set_id)),
                         state=states[i % 5])
        scan = store.add_scan(set_id=set_id, source="scan", corpus={"kind": "files"}, corpus_label=f"corpus {i}",
                              n_outputs=100, min_lines=6, state="done" if i % 2 else "queued", stats={"snippets": i})
        store.add_job("scan", {"scan_id": scan}, item=("scan", scan))


def dashboard_figures(folder: Path) -> list[tuple[str, float, float]]:
    """(what, seconds with 1,000 items, seconds with 10) for the overview read, the first
    paint, and each key of a typed filter (median)."""
    from engine.overview import overview
    from tui.app import ByroteApp
    from tui.screens import dashboard

    results = {}
    for n in (1000, 10):
        db = folder / f"dashboard-{n}.db"
        if not db.exists():
            store = Store(db)
            fill_items(store, n)
            store.close()
        store = Store(db)
        read = timed(lambda: overview(store, time.time()))
        store.close()
        marks: dict[str, float] = {}
        screen_class = dashboard.DashboardScreen
        original = screen_class._render_rows

        def render(self, items, _original=original):
            _original(self, items)
            marks["rendered"] = time.perf_counter()

        screen_class._render_rows = render
        keys: list[float] = []

        async def run() -> None:
            t0 = time.perf_counter()
            app = ByroteApp(db, spawn_worker=lambda store: None, poll_s=60)
            async with app.run_test(size=(160, 48)) as pilot:
                while "rendered" not in marks:
                    await pilot.pause(0.005)
                marks["first"] = marks["rendered"] - t0
                await pilot.press("slash")
                for key in "study 4":
                    marks.pop("rendered", None)
                    t1 = time.perf_counter()
                    await pilot.press("space" if key == " " else key)
                    while "rendered" not in marks:
                        await pilot.pause(0.001)
                    keys.append(marks["rendered"] - t1)

        try:
            asyncio.run(run())
        finally:
            screen_class._render_rows = original
        results[n] = (read, marks["first"], statistics.median(keys))
    names = ("overview read", "first paint (app start to rows)", "filter, a key to its rows (median)")
    return [(name, results[1000][i], results[10][i]) for i, name in enumerate(names)]


def overlay_figures(folder: Path) -> list[tuple[str, float]]:
    """The overlay of 5 studies x 5 levels x 50 epochs: from a key to the end of the app's
    render of the plot (plotext's canvas built)."""
    from textual_plotext import PlotextPlot

    from tui.app import ByroteApp
    from tui.screens.overlay import OverlayScreen

    db = folder / "overlay.db"
    if not db.exists():
        store = Store(db)
        rng = random.Random(0)
        for s in range(5):
            sid = store.add_study(name=f"study {s}", task="varmisuse", model="ggnn", preset="quick", epochs=50,
                                  seed=s, device="cpu", train_path="/d/t", valid_path="/d/v",
                                  levels=[0.0, 25.0, 50.0, 75.0, 100.0])
            for level in (0.0, 25.0, 50.0, 75.0, 100.0):
                run = store.add_run(study_id=sid, level=level, seed=s, epochs=50, epochs_done=0)
                for epoch in range(1, 51):
                    value = min(1.0, (1 - level / 150) * epoch / 50 + rng.random() * 0.05)
                    store.commit_epoch(run, epoch, {split: {"loc_accuracy": value, "repair_accuracy": value / 2,
                                                            "loss": 2 - value} for split in ("train", "valid")}, {})
        store.close()
    figures = []
    rendered: list[float] = []  # when the app's own renders of the plot ended
    drawn: list[float] = [0.0]  # when the screen last drew the plot anew
    original, draw = PlotextPlot.render, OverlayScreen._draw

    def draw_timed(self):
        before = self._drawn
        draw(self)
        if self._drawn != before:
            drawn.append(time.perf_counter())

    def render(self):
        result = original(self)
        if self.id == "overlay":
            rendered.append(time.perf_counter())
        return result

    async def run() -> None:
        app = ByroteApp(db, spawn_worker=lambda store: None, poll_s=60)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.1)

            async def painted(screen, t0: float, before) -> float:
                """From t0 to the end of the first render of the plot after it was drawn anew."""
                while screen._drawn == before or not rendered or rendered[-1] < drawn[-1]:
                    await pilot.pause(0.001)
                return rendered[-1] - t0

            t0 = time.perf_counter()
            screen = OverlayScreen([1, 2, 3, 4, 5])
            app.push_screen(screen)
            figures.append(("open: read and draw 125 curves", await painted(screen, t0, None)))
            for key, what in (("y", "y range"), ("s", "smoothing"), ("m", "next metric (a read)"), ("t", "split")):
                await pilot.pause(0.2)
                before, t1 = screen._drawn, time.perf_counter()
                await pilot.press(key)
                figures.append((f"{key}: {what}", await painted(screen, t1, before)))

    PlotextPlot.render, OverlayScreen._draw = render, draw_timed
    try:
        asyncio.run(run())
    finally:
        PlotextPlot.render, OverlayScreen._draw = original, draw
    return figures


def print_dashboard(folder: Path) -> None:
    print("the dashboard (Pilot, 160x48) with 1,000 items, against 10 (target: a key to its repaint < 100 ms):")
    for what, many, few in dashboard_figures(folder):
        print(f"  {what:40} {many * 1000:7.1f} ms   10 items {few * 1000:6.1f} ms ({many / few:4.1f}x)")


def print_overlay(folder: Path) -> None:
    print("the overlay of 5 studies x 5 levels x 50 epochs (Pilot, 160x48; target < 100 ms a key):")
    for what, seconds in overlay_figures(folder):
        print(f"  {what:40} {seconds * 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--snippets", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="folder for the generated store (kept and reused)")
    parser.add_argument("--only", choices=("dashboard", "overlay"), help="only these figures (no 1,000,000 snippets)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="byrote-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    if args.only:
        (print_dashboard if args.only == "dashboard" else print_overlay)(folder)
        return

    empty = folder / "empty.db"
    frame, torch_import = first_frame(empty, args.runs)
    print(f"first frame (80x24 pty, median of {args.runs}): {frame * 1000:.0f} ms "
          f"(target < 1000 ms); baseline `import torch`: {torch_import * 1000:.0f} ms "
          f"({torch_import / frame:.1f}x the app's whole start)")

    db = folder / f"browser-{args.snippets}.db"
    store = Store(db)
    scans = [s for s in store.scans() if s["state"] == "done"]
    if scans and store.snippet_count(scans[0]["id"]) == args.snippets:
        scan_id = scans[0]["id"]
        print(f"reusing {db} ({args.snippets:,} snippets)")
    else:
        t0 = time.perf_counter()
        scan_id = fill(store, args.snippets)
        print(f"generated {args.snippets:,} snippets in {time.perf_counter() - t0:.1f} s "
              f"({db.stat().st_size / 1e6:,.0f} MB)")
    t0 = time.perf_counter()
    total = store.snippet_filter_count(store.snippet_filter(scan_id))
    print(f"count of all snippets: {total:,} in {(time.perf_counter() - t0) * 1000:.0f} ms (its own worker in the app)")

    print("\npages of 100 rows (keyset) vs the same page by OFFSET:")
    for what, seconds, baseline in page_figures(store, scan_id, total):
        ratio = f"   OFFSET {baseline * 1000:7.1f} ms ({baseline / seconds:6.1f}x)" if baseline else ""
        print(f"  {what:34} {seconds * 1000:7.2f} ms{ratio}")
    print("\nfilter + first page of 100 (by train) vs the same without the trigram index:")
    for what, seconds, baseline, count in filter_figures(store, scan_id):
        ratio = f"   no index {baseline * 1000:7.1f} ms ({baseline / seconds:6.1f}x)" if baseline else ""
        print(f"  {what:34} {seconds * 1000:7.2f} ms  {count:>9,} matches{ratio}")
    store.close()
    print("\nthe browser screen (Pilot, 160x48), from the key to the rows in the table:")
    for what, seconds in app_figures(db, scan_id):
        print(f"  {what:40} {seconds * 1000:7.1f} ms")
    print()
    print_dashboard(folder)
    print()
    print_overlay(folder)
    if not args.keep:
        print(f"\n(store left in {folder}; pass --keep DIR to reuse one)")


if __name__ == "__main__":
    main()
