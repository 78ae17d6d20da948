"""Commands of the noise studies: ``dataset build``, ``noise``, ``study``, ``results`` and
``export curves``."""
from __future__ import annotations

from cli import follow
from cli.listings import add_json, print_json
from cli.show import console, say
from cli.options import (Commands, Parser, count_or_all, device_option, level, mode_options, open_store, positive,
                         seed, trials)


def cmd_dataset_build(args) -> int:
    if args.kind == "methodname":
        from engine.data.methodname_build import build_methodname

        report = build_methodname(args.source, args.out, lang=args.lang, top=args.top,
                                  min_count=args.min_count, seed=args.seed, style=args.style)
    elif args.kind == "codesearch":
        from engine.data.codesearch_build import build_codesearch

        report = build_codesearch(args.source, args.out, limit=args.limit)
    else:
        from engine.data.varmisuse_build import build_varmisuse

        report = build_varmisuse(args.source, args.out, limit=args.limit, seed=args.seed)
    say(report.summary())
    return 0


def cmd_noise(args) -> int:
    from engine.noise import level_name, noisy_copy

    result, changed = noisy_copy(args.task, getattr(args, "in"), args.out, args.level, args.seed, args.kind)
    counts = ", ".join(f"{k.replace('_', ' ')}: {len(v)}" for k, v in result.changed.items())
    if result.counts.get("chosen_unchanged"):
        counts += f", chosen but left as they were (nothing to rewrite): {result.counts['chosen_unchanged']}"
    say(f"{args.out}: {len(result.samples)} samples at {level_name(args.level)}% noise ({counts}); "
          f"changed ids in {changed}")
    return 0


def cmd_study(args) -> int:
    from engine.launch import create_study
    from engine.noise import parse_levels

    store = open_store(args, create=True)
    study_id = create_study(
        store, task=args.task, train=args.train, valid=args.valid, model=args.model,
        levels=parse_levels(args.noise), epochs=args.epochs, preset=args.preset,
        seed=args.seed, device=args.device, name=args.name, overrides=overrides(args), reference=args.reference,
        reference_dataset=args.published_dataset,
        trials=args.trials, noise_kind=args.noise_kind,
    )
    job_ids = [j["id"] for j in store.jobs_of("study", study_id)]
    say(f"study {study_id}: {len(job_ids)} runs queued (jobs {', '.join(map(str, job_ids))})")
    code = follow.launch(store, job_ids, args)
    if code == 0 and (args.wait or args.foreground):  # followed to the end: its results, as byrote results
        from cli.tables import results_table

        console().print(results_table(store, study_id))
    return code


def overrides(args) -> dict:
    """--set pairs, with --capacity, --csr-samples, --eval-every and --heldout-samples as
    named shortcuts."""
    from engine.presets import parse_settings

    settings = parse_settings(args.set)
    for key in ("capacity", "csr_samples", "eval_every", "heldout_samples"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    return settings


def cmd_results(args) -> int:
    from cli.tables import results_table

    store = open_store(args)
    if args.json:
        from engine.results import summary

        store.study(args.study)  # an unknown study: one line
        print_json(summary(store, args.study))
        return 0
    console().print(results_table(store, args.study))
    return 0


def published_dataset_option(p) -> None:
    p.add_argument("--published-dataset", metavar="NAME",
                   help="the <data> part of the published files to read where the folder holds the model's curves "
                        "on several datasets (method names: java-small, java-med, java-large, java-top10)")


def cmd_compare(args) -> int:
    from cli.tables import comparison_table
    from engine.compare import compare

    store = open_store(args)
    rows = compare(store, args.study, args.reference, args.published_dataset)
    console().print(comparison_table(store.study(args.study), rows, args.reference))
    return 0


def cmd_export_curves(args) -> int:
    from engine.export import export_curves

    written = export_curves(open_store(args), args.study, args.out, args.layout)
    say(f"{len(written)} files written to {args.out}")
    return 0


NOISE_KIND_HELP = ("label (the default: labels shuffled, Rabin et al. §4.1) or an input noise that leaves the "
                   "labels alone; varmisuse: injecting_repair (marker tokens announce the answer); methodname: "
                   "method_leakage (a variable renamed to the method's name), statement_deletion (a statement "
                   "deleted), both on datasets built as JSON lines; codesearch: "
                   "identity_pair (a marker word announces the pair's label); codetotext: token_masking (the docstring's "
                   "words masked in the code; needs the masking extra)")


def register(c: Commands) -> None:
    from engine.tasks import TASK_MODELS

    build = c.group("dataset", "build datasets from source code", "KIND")
    p_build = build.add_parser("build", help="build a dataset from a directory of source")
    tasks = p_build.add_subparsers(dest="kind", metavar="TASK", parser_class=Parser, required=True)
    p = c.add("varmisuse", cmd_dataset_build, "a VarMisuse dataset (GREAT format) from Python source", tasks)
    p.add_argument("--source", required=True, metavar="DIR")
    p.add_argument("--out", required=True, metavar="FILE.jsonl",
                   help="training split; the held-out split goes to FILE.valid.jsonl")
    p.add_argument("--limit", type=positive, metavar="N", help="at most N functions")
    p.add_argument("--seed", type=seed, default=0)
    p = c.add("codesearch", cmd_dataset_build,
              "a code-search dataset (CodeSearchNet layout: functions and their docstrings) from Python source", tasks)
    p.add_argument("--source", required=True, metavar="DIR")
    p.add_argument("--out", required=True, metavar="FILE.jsonl",
                   help="training split; held-out splits go to FILE.valid.jsonl and FILE.test.jsonl")
    p.add_argument("--limit", type=positive, metavar="N", help="at most N functions")
    p = c.add("methodname", cmd_dataset_build, "a method-name dataset (path-contexts) from Java or Python", tasks)
    p.add_argument("--lang", required=True, choices=("java", "python"))
    p.add_argument("--source", required=True, metavar="DIR")
    p.add_argument("--out", required=True, metavar="FILE.jsonl",
                   help="training split (.jsonl, .c2v or .c2s); held-out splits go to FILE.valid.jsonl and "
                        "FILE.test.jsonl")
    p.add_argument("--style", choices=("code2vec", "code2seq"),
                   help="the contexts' layout: code2seq's sub-token terminals and node paths, or code2vec's "
                        "(default: code2seq's for .c2s, else code2vec's)")
    p.add_argument("--top", type=positive, metavar="K", help="keep only the K most frequent names")
    p.add_argument("--min-count", type=positive, default=1, metavar="C")
    p.add_argument("--seed", type=seed, default=0)

    p = c.add("noise", cmd_noise, "write a copy of a training set with label noise (Rabin et al. §4.1)")
    p.add_argument("--task", required=True, choices=sorted(TASK_MODELS))
    p.add_argument("--in", required=True, metavar="FILE")
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--level", required=True, type=level, metavar="P", help="percent, 0-100")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--kind", default="label", metavar="KIND", help=NOISE_KIND_HELP)

    p = c.add("study", cmd_study, "create a noise study and train one model per noise level")
    p.add_argument("--task", required=True, choices=sorted(TASK_MODELS))
    p.add_argument("--train", required=True, metavar="FILE")
    p.add_argument("--valid", required=True, metavar="FILE")
    p.add_argument("--model", required=True, metavar="MODEL",
                   help="varmisuse: transformer, ggnn or great; methodname: code2vec or code2seq; codesearch: codebert "
                        "(the encoder is the preset's encoder setting: --set encoder=ID|DIR)")
    p.add_argument("--noise", default="0,25,50,75,100", metavar="LEVELS")
    p.add_argument("--noise-kind", default="label", metavar="KIND", help=NOISE_KIND_HELP)
    p.add_argument("--epochs", type=positive, default=10)
    p.add_argument("--preset", default="quick", metavar="NAME", help="quick, paper (or paper-top10 for the method-name models)")
    p.add_argument("--seed", type=seed, default=0)
    device_option(p)
    p.add_argument("--name", metavar="TEXT")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override one preset setting, e.g. --set lr=3e-4 (repeatable)")
    p.add_argument("--capacity", type=float, metavar="X",
                   help="methodname: size multiplier of code2vec or code2seq (the paper's over-capacity contrast)")
    p.add_argument("--csr-samples", type=count_or_all, metavar="N|all",
                   help="methodname: held-out samples whose critical sample ratio is measured each epoch (paper "
                        "presets: all, as the study; quick: 200; 0: none)")
    p.add_argument("--eval-every", type=seed, metavar="N",
                   help="training samples between evaluations: the x-axis becomes steps, as the study's "
                        "VarMisuse curves (paper preset: 250000); 0: whole epochs")
    p.add_argument("--trials", type=trials, default=1, metavar="K",
                   help="independent noise draws per level (trial t's seed: engine.launch.trial_seed); curves "
                        "show their mean")
    p.add_argument("--reference", metavar="DIR",
                   help="published curves to draw beside the study's, dotted (the layout of byrote compare)")
    published_dataset_option(p)
    p.add_argument("--heldout-samples", type=seed, metavar="M",
                   help="evaluate on a fixed seeded subset of M held-out samples (paper preset: 25000); 0: all")
    mode_options(p, "the runs", "train in this process")

    p = c.add("results", cmd_results, "the last epoch of each run of a study")
    p.add_argument("--study", type=positive, required=True, metavar="ID")
    add_json(p)

    p = c.add("compare", cmd_compare, "a study's curves beside published ones: the last epoch of each, per level")
    p.add_argument("--study", type=positive, required=True, metavar="ID")
    p.add_argument("--reference", required=True, metavar="DIR",
                   help="a folder of published curves, <metric>/<Model>_<data>[_<Head>]_<split>.csv "
                        "(CI-Memorization's data/summary/data/<task>/<noise type>/)")
    published_dataset_option(p)

    export = c.group("export", "write results in upstream formats")
    p = c.add("curves", cmd_export_curves, "one CSV per metric and split, one column per noise level", export)
    p.add_argument("--study", type=positive, required=True, metavar="ID")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--layout", choices=("flat", "published"), default="flat",
                   help="published: under DIR/<task>/<noise kind>/ as the study's data/summary/data/ "
                        "(e.g. variable_misuse/Y_Label_Shuffling/)")
