"""Commands of memorization extraction: ``sample`` (and ``sample import``), ``outputs``,
``lm train``, ``scan``, ``memorized``, ``export memorization``/``snippets`` and ``import
simian``. No torch at import."""
from __future__ import annotations

import argparse

from cli import follow
from cli.listings import add_json, print_json
from cli.show import cell, console, say
from cli.options import (Commands, Parser, clean_up_option, corpus_options, device_option, hex_prefix, megabytes,
                         mode_options, open_store, positive, processes, seed)
from engine.errors import InputError


def corpus_of(args):
    """The corpus the user named, refused at once if it holds no readable document."""
    from engine.launch import open_checked_corpus

    return open_checked_corpus(args.corpus, glob=args.glob, text_field=args.text_field, split=args.split,
                               shard_mb=getattr(args, "shard_mb", 64))


def cmd_sample(args) -> int:
    from engine.launch import check_sampling, enqueue_sampling

    if getattr(args, "sample_command", None) == "import":
        return cmd_sample_import(args)
    prompted = args.prompts or args.prompts_from_corpus
    prompt_options(args, prompted)
    missing = [f"--{n.replace('_', '-')}" for n in ("model", "n") if getattr(args, n) is None
               and not (n == "n" and prompted)]
    if missing:
        raise InputError(f"sample needs {' and '.join(missing)}")
    if prompted and args.prompt is not None:
        raise InputError("--prompt is one prompt for every output; --prompts and --prompts-from-corpus give each "
                         "its own: choose one")
    model = check_sampling(args.model, args.seq_len, args.temperature, args.prompt)
    prompts = read_prompt_options(args, model) if prompted else None
    if prompts is not None and args.n is not None and args.n != len(prompts) * args.per_prompt:
        raise InputError(f"--n {args.n} is not {len(prompts)} prompts x --per-prompt {args.per_prompt}; leave it "
                         "out", field="n")
    store = open_store(args, create=True)
    schedule = args.temperature_schedule
    if schedule is not None:
        say(f"temperature schedule {schedule}: from 10 to 1 over the first 20 tokens, the whole vocabulary "
            "(extract.py's decaying temperature; --top-k and --temperature are not used)")
    identity = dict(model=model, seq_len=args.seq_len, top_k=0 if schedule else args.top_k,
                    temperature=1.0 if schedule else args.temperature, schedule=schedule,
                    batch_size=args.batch_size, seed=args.seed, prompt=args.prompt, clean_up=int(args.clean_up_spaces))
    set_id, job_id, said = enqueue_sampling(store, identity, args.n or 0, args.name, args.trust_remote_code,
                                            args.device, prompts, args.per_prompt)
    say(said + (f" ({len(prompts)} prompts x {args.per_prompt})" if prompts else ""))
    if job_id is None:
        return 0
    say(f"job {job_id}: sampling")
    return follow.launch(store, [job_id], args)


PROMPT_DEFAULTS = {"prompt_tokens": 32, "n_prompts": 100, "glob": None, "text_field": "content", "split": "train"}
"""The options of --prompts-from-corpus and their defaults (left None by the parser, so
that one given without it is refused rather than ignored)."""


def prompt_options(args, prompted) -> None:
    """Refuse a prompt option given without the prompts it shapes; fill in the defaults."""
    stray = [name for name in PROMPT_DEFAULTS if getattr(args, name) is not None]
    if stray and not args.prompts_from_corpus:
        raise InputError(f"--{stray[0].replace('_', '-')} shapes the prompts of --prompts-from-corpus, which was not "
                         "given")
    if args.per_prompt is not None and not prompted:
        raise InputError("--per-prompt counts the outputs of each prompt of --prompts or --prompts-from-corpus, "
                         "neither of which was given")
    for name, default in {**PROMPT_DEFAULTS, "per_prompt": 1}.items():
        if getattr(args, name) is None:
            setattr(args, name, default)


def read_prompt_options(args, model: str) -> list:
    """The prompts of ``--prompts FILE`` or ``--prompts-from-corpus SRC`` (the first
    ``--prompt-tokens`` tokens of ``--n-prompts`` seeded documents), each checked to leave
    room for ``--seq-len`` tokens in the model's context."""
    from engine.launch import field
    from engine.lm.hub import context_length, load_tokenizer
    from engine.prompts import prompts_from_corpus, read_prompts

    if args.prompts and args.prompts_from_corpus:
        raise InputError("give --prompts or --prompts-from-corpus, not both")
    tokenizer = load_tokenizer(model, args.trust_remote_code)
    if args.prompts:
        with field("prompts"):
            prompts = read_prompts(args.prompts)
    else:
        from engine.launch import open_checked_corpus

        with field("prompts_from_corpus"):
            corpus = open_checked_corpus(args.prompts_from_corpus, glob=args.glob, text_field=args.text_field,
                                         split=args.split)
        prompts = prompts_from_corpus(corpus, tokenizer, args.n_prompts, args.prompt_tokens, args.seed)
        if not prompts:
            raise InputError(f"no document of the corpus has {args.prompt_tokens} tokens", field="prompts_from_corpus")
    limit = context_length(model)
    longest = max(len(tokenizer(text)["input_ids"]) for text, _, _ in prompts)
    if limit is not None and longest + args.seq_len > limit:
        raise InputError(f"a prompt of {longest} tokens leaves no room for --seq-len {args.seq_len} in the model's "
                         f"context of {limit}", field="seq_len")
    return prompts


def cmd_sample_import(args) -> int:
    from engine.imports import read_outputs, save_outputs

    # a switch that is on unless turned off is named by its --no- form
    given = [f"--{'no-' * (default is True)}{dest.replace('_', '-')}"
             for dest, default in args.sampling_defaults.items() if getattr(args, dest, default) != default]
    if given:
        raise InputError(f"{', '.join(given)}: {'an option' if len(given) == 1 else 'options'} of sampling, "
                         "not of sample import")
    outputs = read_outputs(args.dir)
    set_id = save_outputs(open_store(args, create=True), args.dir, outputs, args.name)
    say(f"output set {set_id}: {len(outputs)} output{'s' * (len(outputs) != 1)} imported from {args.dir}")
    return 0


def cmd_outputs(args) -> int:
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("id", "name", "source", "model", "outputs", "seq_len", "top_k", "temperature", "seed"):
        table.add_column(col)
    sets = open_store(args).output_sets()
    if args.json:
        print_json(sets)
        return 0
    for s in sets:
        table.add_row(str(s["id"]), cell(s["name"] or ""), cell(s["source"]), cell(s["model"] or "-"),
                      f"{s['count']}/{s['n']}",
                      *(str(s[c]) if s[c] is not None else "-" for c in ("seq_len", "top_k", "temperature", "seed")))
    console().print(table)
    return 0


def cmd_lm_train(args) -> int:
    from engine.launch import check_lm_training, enqueue_lm_training
    from engine.presets import parse_settings

    plan = check_lm_training(args.out, args.preset, parse_settings(args.set), args.device)  # before the corpus
    corpus = corpus_of(args)
    store = open_store(args, create=True)
    _, job_id = enqueue_lm_training(store, plan, corpus, args.seed, args.device)
    say(f"job {job_id}: training a {args.preset} language model on {corpus.describe()} into {plan.out}")
    return follow.launch(store, [job_id], args)


def cmd_scan(args) -> int:
    from cli.tables import print_memorized
    from engine.launch import check_scan, enqueue_scan

    store = open_store(args)
    plan = check_scan(store, args.outputs, args.min_lines, args.rules, args.case_sensitive)  # before the corpus
    corpus = corpus_of(args)
    scan_id, job_id, said = enqueue_scan(store, plan, corpus, args.workers, args.name)
    if said.startswith("resuming"):
        say(said)
    say(f"scan {scan_id} (job {job_id}): {plan.outputs['count']} outputs of set {args.outputs} against {corpus.describe()}")
    code = follow.launch(store, [job_id], args)
    if code == 0 and (args.wait or args.foreground):
        print_memorized(store, scan_id, top=10)
    return code


def cmd_memorized(args) -> int:
    from cli.tables import print_memorized

    store = open_store(args)
    store.finished_scan(args.scan)
    if args.json:
        print_json(store.snippet_page(store.snippet_filter(args.scan, prefix=args.prefix), args.order, limit=args.top))
        return 0
    print_memorized(store, args.scan, top=args.top, order=args.order, prefix=args.prefix)
    return 0


def cmd_export_memorization(args) -> int:
    from engine.export import export_memorization

    n = export_memorization(open_store(args), args.scan, args.out)
    say(f"{args.out}: {n} memorized snippets")
    return 0


def cmd_export_snippets(args) -> int:
    from engine.export import export_snippets

    n = export_snippets(open_store(args), args.scan, args.out)
    say(f"{args.out}: {n} memorized snippets")
    return 0


def cmd_import_simian(args) -> int:
    from engine.imports import output_texts, read_simian, save_simian

    store = None

    def texts():  # the store is opened only once the logs and the map have been read
        nonlocal store
        store = open_store(args, create=True)
        return output_texts(store, args.outputs)

    imported = read_simian(args.logs, args.outputs_name, args.map,
                           outputs=texts if args.outputs is not None else None, count=args.count)
    scan_id = save_simian(store or open_store(args, create=True), imported, args.outputs)
    if not args.map:
        where = "lines of the merged outputs files, numbered 1.. as output ids"
    elif args.outputs is not None:
        where = f"outputs and their original lines, through {args.map}"
    else:
        where = f"outputs and their lines as merged (empty lines removed), through {args.map}"
    found, logs = len(imported.found), len(imported.logs)
    say(f"scan {scan_id}: {found} memorized snippet{'s' * (found != 1)} from {logs} Simian log{'s' * (logs != 1)} "
        f"(output locations: {where}; count: {imported.count})")
    return 0


def register(c: Commands) -> None:
    from engine.clones.rules import DEFAULT_RULES, RULES
    from engine.store.browse import SNIPPET_ORDERS

    p = c.add("sample", cmd_sample, "sample outputs from a causal language model (resumable)")
    p.add_argument("--model", metavar="NAME_OR_PATH", help="a Hugging Face id or a local model directory")
    p.add_argument("--n", type=positive, metavar="N", help="outputs in the set (a rerun continues up to N)")
    p.add_argument("--seq-len", type=positive, default=512, metavar="L", help="tokens per output (default 512)")
    p.add_argument("--top-k", type=positive, default=40, metavar="K")
    p.add_argument("--temperature", type=float, default=1.0, metavar="T")
    p.add_argument("--temperature-schedule", choices=("decay",), metavar="decay",
                   help="the study's decaying temperature (extract.py with --temperature above 1): 10 down to 1 "
                        "over the first 20 tokens, then 1, sampling from the whole vocabulary")
    clean_up_option(p)
    p.add_argument("--batch-size", type=positive, default=32, metavar="B")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--prompt", metavar="TEXT", help="start every output with this text (default: the BOS token)")
    p.add_argument("--prompts", metavar="FILE",
                   help="prompts, one per line (or JSON lines with 'prompt' and 'doc'); --per-prompt outputs each")
    p.add_argument("--prompts-from-corpus", metavar="SOURCE",
                   help="prompts taken from the start of seeded training documents (recorded with each)")
    p.add_argument("--prompt-tokens", type=positive, metavar="P",
                   help="tokens of each document taken as its prompt (default 32)")
    p.add_argument("--n-prompts", type=positive, metavar="M", help="documents to prompt with (default 100)")
    p.add_argument("--per-prompt", type=positive, metavar="K", help="outputs per prompt (default 1)")
    p.add_argument("--glob", metavar="PATTERN", help="--prompts-from-corpus: file names to take")
    p.add_argument("--text-field", metavar="NAME", help="--prompts-from-corpus: records' text field (default content)")
    p.add_argument("--split", help="--prompts-from-corpus: an hf: dataset's split (default train)")
    p.add_argument("--name", metavar="TEXT")
    device_option(p)
    p.add_argument("--trust-remote-code", action="store_true",
                   help="let the model's repository run its own code (off unless asked)")
    mode_options(p)
    # what sample import refuses: every option of sampling given (one its default is not)
    p.set_defaults(sampling_defaults={dest: value for dest, value in vars(p.parse_args([])).items()
                                      if dest not in ("func", "name")})
    imp = p.add_subparsers(dest="sample_command", metavar="[import DIR]", parser_class=Parser)
    q = imp.add_parser("import", parents=[c.common], help="import a folder of outputs (files 1..N, or all + map.json)")
    q.add_argument("dir", metavar="DIR")
    q.add_argument("--name", metavar="TEXT", default=argparse.SUPPRESS)  # or before import: sample --name N import

    p = c.add("outputs", cmd_outputs, "list the sets of sampled or imported outputs")
    add_json(p)

    lm = c.group("lm", "train a small language model to demo with")
    p = c.add("train", cmd_lm_train, "train a small GPT-2 and its BPE tokenizer on a corpus", lm)
    corpus_options(p)
    p.add_argument("--out", required=True, metavar="DIR", help="where save_pretrained writes the model")
    p.add_argument("--preset", default="quick", metavar="NAME", help="tiny, quick or small")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one preset setting")
    p.add_argument("--seed", type=seed, default=0)
    device_option(p)
    mode_options(p)

    p = c.add("scan", cmd_scan, "find every output span of K or more lines that reproduces the corpus")
    p.add_argument("--outputs", type=positive, required=True, metavar="ID", help="output set id")
    p.add_argument("--name", metavar="TEXT", help="what the dashboard calls the scan (default: its corpus)")
    corpus_options(p)
    p.add_argument("--rules", default=DEFAULT_RULES, choices=RULES,
                   help="simian: Simian 2.5.10's plain-text rules and blocks, as the study ran it (default); "
                        "lines: byrote's own line keys and maximal spans")
    p.add_argument("--min-lines", type=positive, default=6, metavar="K", help="shortest span (default 6, as Simian)")
    p.add_argument("--case-sensitive", action="store_true", help="compare lines with their case (--rules lines)")
    p.add_argument("--workers", type=processes, metavar="W", help="processes over corpus shards (default: cores)")
    p.add_argument("--shard-mb", type=megabytes, default=64, metavar="MB",
                   help="corpus files are grouped into shards of about MB (default 64); a shard is the unit "
                        "of parallel work and of resuming")
    mode_options(p)

    p = c.add("memorized", cmd_memorized, "the memorized snippets of a scan")
    p.add_argument("--scan", type=positive, required=True, metavar="ID")
    p.add_argument("--top", type=positive, default=20, metavar="N", help="how many (default 20)")
    p.add_argument("--order", default="train", choices=tuple(SNIPPET_ORDERS),
                   help="largest first, or for first_line and fingerprint in order (default train)")
    p.add_argument("--prefix", type=hex_prefix, default="", metavar="HEX", help="fingerprints starting with HEX")
    add_json(p)

    export = c.group("export", "write results in upstream formats")
    p = c.add("memorization", cmd_export_memorization, "the study's memorization.json", export)
    p.add_argument("--scan", type=positive, required=True, metavar="ID")
    p.add_argument("--out", required=True, metavar="FILE")
    p = c.add("snippets", cmd_export_snippets, "the study's >>>>>>>>>>fingerprints snippet text", export)
    p.add_argument("--scan", type=positive, required=True, metavar="ID")
    p.add_argument("--out", required=True, metavar="FILE")

    imports = c.group("import", "read results of other tools")
    p = c.add("simian", cmd_import_simian, "Simian 2.5.10 logs, with the study's memorization rule", imports)
    p.add_argument("logs", nargs="+", metavar="LOG")
    p.add_argument("--outputs-name", metavar="NAME",
                   help="file name of the merged outputs in the logs (default: all, all_<a>-<b> and "
                        "all_<sha1>-<a>-<b>, as the study's merge.py names them)")
    p.add_argument("--map", metavar="MAP_JSON",
                   help="the study's map.json: output locations become output ids and their own lines "
                        "(of the original files with --outputs, else as merge.py wrote them)")
    p.add_argument("--outputs", type=positive, metavar="ID",
                   help="the output set imported (byrote sample import) from the original output files that "
                        "map.json was made from: locations become lines of those files")
    p.add_argument("--count", default="distinct", choices=("distinct", "study"),
                   help="distinct (default): train/extract count distinct locations, every block read; "
                        "study: the study's clone/analyze.py exactly (each log's last block dropped, "
                        "counts summed over shard logs)")
