"""``byrote demo --headless``: both instruments end to end on this Python's standard library.

1. Noise studies: builds a VarMisuse dataset and a method-name dataset (the ten most
   frequent names, as the paper's Java-Top10) from the running interpreter's standard
   library, trains one model per noise level (0/25/50/75/100 %) with the quick preset in
   this process, and prints the last epoch of each study with a check of the paper's
   observations.
2. Memorization extraction: trains a small GPT-2 on a slice of the standard library,
   samples a few hundred outputs from it, scans them against the slice, and prints the
   top memorized snippets and how many outputs hold at least one.
"""
from __future__ import annotations

import sysconfig
import time
from pathlib import Path

from rich.console import Console

from engine.store import Store

DEMO_LIMIT = 2000   # VarMisuse: functions taken from the standard library
DEMO_EPOCHS = 5     # VarMisuse epochs per level
MN_TOP = 10         # method names: the K most frequent names, as Java-Top10
MN_EPOCHS = 3
MN_CSR_SAMPLES = 100
DEMO_LEVELS = [0.0, 25.0, 50.0, 75.0, 100.0]
LM_SLICE_BYTES = 20_000  # the language model's corpus: stdlib files of 2-6 kB, in order, up to this size
LM_FILE_BYTES = (2_000, 6_000)
LM_OUTPUTS = 300
LM_SEQ_LEN = 240  # within the quick model's 256 positions, after the BOS token
LM_BATCH = 50


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def _falls(store: Store, study_id: int, key: str) -> tuple[bool, str]:
    """Whether ``key`` at the last epoch never rises from one noise level to the next."""
    from engine.study import level_name, summary

    rows = sorted(summary(store, study_id), key=lambda r: r["level"])
    values = [r.get(key) for r in rows]
    falling = all(a is not None and b is not None and b <= a for a, b in zip(values, values[1:]))
    return falling, "  ".join(f"{level_name(r['level'])}%: {_or_nan(v):.3f}" for r, v in zip(rows, values))


def observations(store: Store, vm_study: int, mn_study: int | None = None) -> list[tuple[str, bool, str]]:
    """The paper's Observation 1 (held-out performance falls with noise, §5.1) on both
    tasks, and Observation 3 (the spread of training loss is lower at 100 % noise than at
    0 %, §5.3) on VarMisuse."""
    from engine.study import summary

    found = []
    holds, detail = _falls(store, vm_study, "valid.loc_accuracy")
    found.append(("Observation 1, VarMisuse: held-out localization accuracy falls as noise rises", holds, detail))
    if mn_study is not None:
        holds, detail = _falls(store, mn_study, "valid.f1_score")
        found.append(("Observation 1, method names: held-out F1 falls as noise rises", holds, detail))
    gini = {r["level"]: r.get("train.gini_loss") for r in summary(store, vm_study)}
    lower = gini.get(100.0) is not None and gini.get(0.0) is not None and gini[100.0] < gini[0.0]
    found.append(("Observation 3, VarMisuse: train-loss Gini lower at 100% than at 0%", lower,
                  f"0%: {_or_nan(gini.get(0.0)):.3f}  100%: {_or_nan(gini.get(100.0)):.3f}"))
    return found


def run_demo(store: Store, args) -> int:
    from engine.data.methodname_build import build_methodname
    from engine.data.varmisuse_build import build_varmisuse
    from engine.study import create_study
    from tui.follow import results_table, run_foreground

    console = Console()
    t0 = time.time()
    limit = args.limit or DEMO_LIMIT
    epochs = args.epochs or DEMO_EPOCHS
    source = Path(sysconfig.get_paths()["stdlib"])
    demo_dir = store.files / "demo"
    console.print(f"[bold]byrote demo[/]: noise studies on {source} (database {store.path})")

    vm = build_varmisuse(source, demo_dir / f"varmisuse-{limit}-seed{args.seed}.jsonl", limit=limit, seed=args.seed)
    console.print(vm.summary())
    mn = build_methodname(source, demo_dir / f"methodname-top{MN_TOP}-seed{args.seed}.jsonl", lang="python",
                          top=MN_TOP, seed=args.seed)
    console.print(mn.summary())

    vm_study = create_study(
        store, task="varmisuse", train=str(vm.train_path), valid=str(vm.valid_path),
        model=args.model, levels=DEMO_LEVELS, epochs=epochs, preset="quick", seed=args.seed,
        device="auto", name=f"demo: {args.model} on the standard library",
    )
    mn_study = create_study(
        store, task="methodname", train=str(mn.train_path), valid=str(mn.test_path),
        model="code2vec", levels=DEMO_LEVELS, epochs=args.epochs or MN_EPOCHS, preset="quick",
        seed=args.seed, device="auto", name=f"demo: code2vec on the standard library's top {MN_TOP} names",
        overrides={"csr_samples": MN_CSR_SAMPLES},
    )
    job_ids = [j["id"] for s in (vm_study, mn_study) for j in store.jobs_of_study(s)]
    code = run_foreground(store, job_ids, console)
    for study_id in (vm_study, mn_study):
        console.print(results_table(store, study_id))
    for text, holds, detail in observations(store, vm_study, mn_study):
        console.print(f"{'[green]holds[/]' if holds else '[red]does not hold[/]'}  {text}: {detail}")
    console.print(f"studies {vm_study} and {mn_study} finished in {time.time() - t0:.0f} s; "
                  f"export with: byrote export curves --study ID --out DIR")
    return max(code, run_extraction(store, source, demo_dir, args.seed, console, t0))


def stdlib_slice(source: Path, target: Path, budget: int, smallest: int = 0, largest: int | None = None) -> Path:
    """Copy ``.py`` files of ``source`` of ``smallest``..``largest`` bytes, in sorted order,
    while they fit in ``budget`` bytes, into ``target``: the language model's corpus."""
    from engine.data.sources import source_files

    taken = 0
    for rel in source_files(source, ".py"):
        data = (source / rel).read_bytes()
        if len(data) < smallest or (largest is not None and len(data) > largest):
            continue
        if taken + len(data) > budget:
            continue  # too big for what is left: a later, smaller file may fit
        dest = target / rel
        if not dest.is_file() or dest.read_bytes() != data:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        taken += len(data)
    return target


def run_extraction(store: Store, source: Path, demo_dir: Path, seed: int, console: Console, t0: float) -> int:
    """Train the quick LM on a stdlib slice, sample from it, and scan the samples."""
    from engine.data.corpus import open_corpus
    from tui.follow import run_foreground
    from engine.enqueue import enqueue_sampling, enqueue_scan
    from tui.memcli import print_memorized

    slice_dir = stdlib_slice(source, demo_dir / "lm-corpus", LM_SLICE_BYTES, *LM_FILE_BYTES)
    corpus = open_corpus(str(slice_dir), glob="*.py")
    console.print(f"[bold]memorization extraction[/]: a quick GPT-2 on {corpus.describe()}")
    model = demo_dir / f"lm-quick-seed{seed}"
    if (model / "config.json").is_file():
        console.print(f"reusing the model trained earlier in {model}")
    else:
        job = store.add_job("lm_train", {"corpus": corpus.spec, "out": str(model), "preset": "quick",
                                         "settings": {}, "seed": seed, "device": "auto"})
        if run_foreground(store, [job], console):
            return 1
    identity = dict(model=str(model), seq_len=LM_SEQ_LEN, top_k=40, temperature=1.0,
                    batch_size=LM_BATCH, seed=seed, prompt=None)
    set_id, job, said = enqueue_sampling(store, identity, LM_OUTPUTS, name="demo: quick GPT-2, top-k 40")
    console.print(said)
    if job is not None and run_foreground(store, [job], console):
        return 1
    scan_id, job, said = enqueue_scan(store, set_id, corpus, workers=2)
    console.print(said)
    if run_foreground(store, [job], console):
        return 1
    print_memorized(store, scan_id, top=10, order="extract")
    console.print(f"the whole demo took {time.time() - t0:.0f} s; browse with: byrote memorized --scan {scan_id}, "
                  f"export with: byrote export memorization --scan {scan_id} --out memorization.json")
    return 0
