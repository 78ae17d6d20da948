"""The memorization half of the command line: sample, lm train, scan, memorized,
export memorization/snippets, import simian, outputs. No torch at import."""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from engine.errors import InputError


def _store(args):
    from cli.main import _store

    return _store(args)


def _corpus(args):
    """The corpus the user named, refused at once if it holds no readable document."""
    from engine.launch import open_checked_corpus

    return open_checked_corpus(args.corpus, glob=args.glob, text_field=args.text_field, split=args.split,
                               shard_mb=getattr(args, "shard_mb", 64))


# -- commands ---------------------------------------------------------------------------
def cmd_sample(args) -> int:
    from engine.launch import check_sampling, enqueue_sampling
    from cli.main import _launch

    if getattr(args, "sample_command", None) == "import":
        return cmd_sample_import(args)
    missing = [f"--{n.replace('_', '-')}" for n in ("model", "n") if getattr(args, n) is None]
    if missing:
        raise InputError(f"sample needs {' and '.join(missing)}")
    model = check_sampling(args.model, args.seq_len, args.temperature, args.prompt)
    store = _store(args)
    identity = dict(model=model, seq_len=args.seq_len, top_k=args.top_k, temperature=args.temperature,
                    batch_size=args.batch_size, seed=args.seed, prompt=args.prompt)
    set_id, job_id, said = enqueue_sampling(store, identity, args.n, args.name, args.trust_remote_code, args.device)
    print(said)
    if job_id is None:
        return 0
    print(f"job {job_id}: sampling")
    return _launch(store, [job_id], args)


def cmd_sample_import(args) -> int:
    from engine.formats import read_output_dir

    outputs = read_output_dir(args.dir)
    if not outputs:
        raise InputError("no outputs in this folder", args.dir)
    import hashlib

    store = _store(args)
    set_id = store.add_output_set(name=args.name or Path(args.dir).name, source="import",
                                  model=None, n=len(outputs), config={"path": str(Path(args.dir).absolute())})
    store.add_outputs(set_id, [(i, hashlib.md5(t.encode("utf-8")).hexdigest(), t, None) for i, t in outputs])
    print(f"output set {set_id}: {len(outputs)} outputs imported from {args.dir}")
    return 0


def cmd_outputs(args) -> int:
    from rich.console import Console
    from rich.table import Table

    store = _store(args)
    table = Table(box=None, header_style="bold")
    for col in ("id", "name", "source", "model", "outputs", "seq_len", "top_k", "temperature", "seed"):
        table.add_column(col)
    for s in store.output_sets():
        table.add_row(str(s["id"]), s["name"] or "", s["source"], s["model"] or "-", f"{s['count']}/{s['n']}",
                      *(str(s[c]) if s[c] is not None else "-" for c in ("seq_len", "top_k", "temperature", "seed")))
    Console().print(table)
    return 0


def cmd_lm_train(args) -> int:
    from engine.launch import check_lm_out, enqueue_lm_training
    from engine.lm import load_lm_preset
    from engine.study import parse_settings
    from cli.main import _launch

    settings = parse_settings(args.set)
    load_lm_preset(args.preset, settings)  # bad settings and folders are refused before the corpus is read
    check_lm_out(args.out)
    corpus = _corpus(args)
    store = _store(args)
    job_id = enqueue_lm_training(store, corpus, args.out, args.preset, settings, args.seed, args.device)
    print(f"job {job_id}: training a {args.preset} language model on {corpus.describe()} "
          f"into {Path(args.out).expanduser().absolute()}")
    return _launch(store, [job_id], args)


def cmd_scan(args) -> int:
    from engine.launch import check_scan, enqueue_scan
    from cli.main import _launch

    store = _store(args)
    outputs = check_scan(store, args.outputs, args.min_lines)  # before reading the corpus
    corpus = _corpus(args)
    scan_id, job_id, said = enqueue_scan(store, args.outputs, corpus, args.min_lines, args.case_sensitive,
                                         args.workers)
    if said.startswith("resuming"):
        print(said)
    print(f"scan {scan_id} (job {job_id}): {outputs['count']} outputs of set {args.outputs} against {corpus.describe()}")
    code = _launch(store, [job_id], args)
    if code == 0 and (args.wait or args.foreground):
        print_memorized(store, scan_id, top=10)
    return code


def print_memorized(store, scan_id: int, top: int = 10, order: str = "train", prefix: str = "") -> None:
    from rich.console import Console

    scan = store.scan(scan_id)
    stats = scan["stats"]
    console = Console()
    if scan["source"] == "scan" and stats:
        console.print(
            f"scan {scan_id}: {stats.get('snippets', 0)} memorized snippets; "
            f"{stats.get('memorized_outputs', 0)} of {stats.get('outputs', 0)} outputs hold at least one "
            f"({stats.get('docs', 0)} documents, {stats.get('skipped', 0)} skipped as not UTF-8, "
            f"{stats.get('bytes', 0) / 1e6:,.1f} MB in {stats.get('seconds', 0)} s)")
    # plain columns: rich's table drops narrow columns beside a long no-wrap one
    room = max(console.width - 60, 10)  # the columns before the first line take 59
    console.print(f"[bold]{'fingerprint':32}  {'len':>5}  {'train':>7}  {'extract':>7}  first line[/]", highlight=False)
    for s in store.snippets(scan_id, order=order, prefix=prefix, limit=top):
        first = next((line.strip() for line in (s["text"] or "").split("\n") if line.strip()), "")
        first = first if len(first) <= room else first[:room - 1] + "…"
        console.print(f"{s['fingerprint']:32}  {s['len']:>5}  {s['train']:>7}  {s['extract']:>7}  {first}",
                      highlight=False, markup=False)


def finished_scan(store, scan_id: int) -> dict:
    """A scan whose results are complete; an unfinished one is refused (its tables are empty)."""
    scan = store.scan(scan_id)
    if scan["state"] != "done":
        raise InputError(f"scan {scan_id} is {scan['state']}, not done; see byrote jobs")
    return scan


def cmd_memorized(args) -> int:
    store = _store(args)
    finished_scan(store, args.scan)
    print_memorized(store, args.scan, top=args.top, order=args.order, prefix=args.prefix)
    return 0


def cmd_export_memorization(args) -> int:
    from engine.formats import write_memorization_json

    store = _store(args)
    finished_scan(store, args.scan)
    rows = store.snippets(args.scan, order="train")
    write_memorization_json(((s["fingerprint"], s["train"], s["extract"], s["len"]) for s in rows), args.out)
    print(f"{args.out}: {len(rows)} memorized snippets")
    return 0


def cmd_export_snippets(args) -> int:
    from engine.formats import write_snippets

    store = _store(args)
    scan = finished_scan(store, args.scan)
    items = []
    for s in store.snippets(args.scan, order="train"):
        texts = []
        for loc in store.snippet_outputs(args.scan, s["fingerprint"]):
            if scan["set_id"] is None or loc["output_id"] is None:
                continue
            lines = store.output(scan["set_id"], loc["output_id"])["text"].split("\n")
            texts.append("\n".join(lines[loc["start_line"] - 1:loc["end_line"]]))
        items.append((s["fingerprint"], texts or [s["text"] or ""]))
    write_snippets(items, args.out)
    print(f"{args.out}: {len(items)} memorized snippets")
    return 0


def cmd_import_simian(args) -> int:
    from engine.formats import memorized_from_simian, read_simian_log

    logs = [read_simian_log(path) for path in args.logs]
    is_output = (lambda p: Path(p).name == args.outputs_name) if args.outputs_name else None
    found = memorized_from_simian(logs, **({"is_output": is_output} if is_output else {}))
    from engine.clones.automaton import MAX_SAMPLES

    files: dict[str, int] = {}  # merged outputs file -> its number (output id), in order seen
    locations = sorted({(m.fingerprint, files.setdefault(loc.path, len(files) + 1), loc.start, loc.end)
                        for m in found.values() for loc in m.output_locations})
    if args.outputs is not None and not args.map:
        raise InputError("--outputs needs --map: without it the locations are lines of the merged file")
    store = _store(args)
    if args.outputs is not None:
        store.output_set(args.outputs)  # must exist
    if args.map:
        if len(files) > 1:
            raise InputError(f"--map describes one merged outputs file; the logs name {len(files)}")
        locations = _per_output(locations, args.map)
    scan_id = store.add_scan(source="simian", corpus={"simian_logs": [str(Path(p).absolute()) for p in args.logs]},
                             corpus_label=f"{len(logs)} Simian logs", min_lines=None, state="running",
                             set_id=args.outputs)
    try:
        store.save_scan_results(
            scan_id,
            ((m.fingerprint, m.len, m.train, m.extract, None) for m in found.values()),
            locations,
            ((m.fingerprint, rank, loc.path, loc.start, loc.end, None, None)
             for m in found.values() for rank, loc in enumerate(m.train_locations[:MAX_SAMPLES], 1)),
            state="done", stats={"snippets": len(found), "logs": len(logs), "output_files": list(files)},
        )
    except BaseException:
        store.delete_scan(scan_id)
        raise
    where = ("outputs and lines from " + args.map) if args.map else \
        "lines of the merged outputs files, numbered 1.. as output ids"
    print(f"scan {scan_id}: {len(found)} memorized snippets from {len(logs)} Simian logs (output locations: {where})")
    return 0


def _per_output(locations: list[tuple[str, int, int, int]], map_file: str) -> list[tuple[str, int, int, int]]:
    """Lines of the merged outputs file as (output id, lines within that output), through
    the study's ``map.json``. Simian reads the merged file as one text, so a location
    that runs past its output's end is cut there."""
    import bisect

    from engine.formats import read_output_map

    spans = read_output_map(map_file)
    starts = [start for start, _, _, _ in spans]
    mapped = set()
    for fp, _, a, b in locations:
        i = bisect.bisect_right(starts, a) - 1
        if i < 0 or a > spans[i][1]:
            raise InputError(f"line {a} of the merged outputs file is in no output of the map", map_file)
        start, end, output_id, _ = spans[i]
        mapped.add((fp, output_id, a - start + 1, min(b, end - 1) - start + 1))
    return sorted(mapped)


# -- parser -------------------------------------------------------------------------------
def _megabytes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 1e-6 <= value <= 1e6):
        raise argparse.ArgumentTypeError(f"{text} is outside 0.000001..1000000")
    return value


def _corpus_options(p) -> None:
    p.add_argument("--corpus", required=True, metavar="SOURCE",
                   help="a directory of source files, JSON-lines or Parquet files, or hf:NAME")
    p.add_argument("--glob", metavar="PATTERN", help="file names to take from a directory, e.g. '*.py'")
    p.add_argument("--text-field", default="content", metavar="NAME", help="records' text field (default: content)")
    p.add_argument("--split", default="train", help="hf: datasets' split (default: train)")


def _mode(p) -> None:
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--wait", action="store_true", help="follow the job with a progress bar")
    mode.add_argument("--foreground", action="store_true", help="run the job in this process")


def add_commands(sub, add, helpers) -> None:
    """Register the memorization commands on the main parser's subcommands."""
    positive, seed, parser_class = helpers["positive"], helpers["seed"], helpers["parser_class"]

    p = add("sample", cmd_sample, "sample outputs from a causal language model (resumable)")
    p.add_argument("--model", metavar="NAME_OR_PATH", help="a Hugging Face id or a local model directory")
    p.add_argument("--n", type=positive, metavar="N", help="outputs in the set (a rerun continues up to N)")
    p.add_argument("--seq-len", type=positive, default=512, metavar="L", help="tokens per output (default 512)")
    p.add_argument("--top-k", type=positive, default=40, metavar="K")
    p.add_argument("--temperature", type=float, default=1.0, metavar="T")
    p.add_argument("--batch-size", type=positive, default=32, metavar="B")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--prompt", metavar="TEXT", help="start every output with this text (default: the BOS token)")
    p.add_argument("--name", metavar="TEXT")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--trust-remote-code", action="store_true",
                   help="let the model's repository run its own code (off unless asked)")
    _mode(p)
    imp = p.add_subparsers(dest="sample_command", metavar="[import DIR]", parser_class=parser_class)
    q = imp.add_parser("import", help="import a folder of outputs (files 1..N, or all + map.json)")
    q.add_argument("dir", metavar="DIR")
    q.add_argument("--name", metavar="TEXT")

    add("outputs", cmd_outputs, "list the sets of sampled or imported outputs")

    p_lm = sub.add_parser("lm", help="train a small language model to demo with")
    lm = p_lm.add_subparsers(dest="lm_command", metavar="WHAT", parser_class=parser_class, required=True)
    p = add("train", cmd_lm_train, "train a small GPT-2 and its BPE tokenizer on a corpus", lm)
    _corpus_options(p)
    p.add_argument("--out", required=True, metavar="DIR", help="where save_pretrained writes the model")
    p.add_argument("--preset", default="quick", metavar="NAME", help="tiny, quick or small")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one preset setting")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    _mode(p)

    p = add("scan", cmd_scan, "find every output span of K or more lines that reproduces the corpus")
    p.add_argument("--outputs", type=positive, required=True, metavar="ID", help="output set id")
    _corpus_options(p)
    p.add_argument("--min-lines", type=int, default=6, metavar="K", help="shortest span (default 6, as Simian)")
    p.add_argument("--case-sensitive", action="store_true", help="compare lines with their case")
    p.add_argument("--workers", type=positive, metavar="W", help="processes over corpus shards (default: cores)")
    p.add_argument("--shard-mb", type=_megabytes, default=64, metavar="MB",
                   help="corpus files are grouped into shards of about MB (default 64); a shard is the unit "
                        "of parallel work and of resuming")
    _mode(p)

    p = add("memorized", cmd_memorized, "the memorized snippets of a scan")
    p.add_argument("--scan", type=positive, required=True, metavar="ID")
    p.add_argument("--top", type=positive, default=20, metavar="N")
    p.add_argument("--order", default="train", choices=("train", "extract", "len", "fingerprint"))
    p.add_argument("--prefix", default="", metavar="HEX", help="fingerprints starting with HEX")

    ex = helpers["export"]
    p = add("memorization", cmd_export_memorization, "the study's memorization.json", ex)
    p.add_argument("--scan", type=positive, required=True, metavar="ID")
    p.add_argument("--out", required=True, metavar="FILE")
    p = add("snippets", cmd_export_snippets, "the study's >>>>>>>>>>fingerprints snippet text", ex)
    p.add_argument("--scan", type=positive, required=True, metavar="ID")
    p.add_argument("--out", required=True, metavar="FILE")

    p_imp = sub.add_parser("import", help="read results of other tools")
    im = p_imp.add_subparsers(dest="import_command", metavar="WHAT", parser_class=parser_class, required=True)
    p = add("simian", cmd_import_simian, "Simian 2.5.10 logs, with the study's memorization rule", im)
    p.add_argument("logs", nargs="+", metavar="LOG")
    p.add_argument("--outputs-name", metavar="NAME",
                   help="file name of the merged outputs in the logs (default: all)")
    p.add_argument("--map", metavar="MAP_JSON",
                   help="the study's map.json: output locations become output ids and their own lines")
    p.add_argument("--outputs", type=positive, metavar="ID",
                   help="the output set imported from that folder (byrote sample import), for its texts")
