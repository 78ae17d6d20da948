"""``byrote extractable`` (k-extractability of a model on its training corpus, Carlini et
al. 2023) and ``byrote windows`` (a run's windows and figures). No torch at import."""
from __future__ import annotations

from cli import follow
from cli.listings import add_json, print_json
from cli.options import Commands, corpus_options, device_option, mode_options, open_store, positive, seed
from cli.show import console, say
from engine.untrusted import visible


def cmd_extractable(args) -> int:
    from cli.extraction import corpus_of
    from engine.launch import check_extractable, enqueue_extractable

    corpus = corpus_of(args)
    plan = check_extractable(args.model, corpus, args.n, args.prefix, args.suffix, args.seed, args.at_start,
                             args.batch_size, args.trust_remote_code, args.per_document)
    store = open_store(args, create=True)
    run_id, job_id = enqueue_extractable(store, plan, args.name, args.device)
    say(f"k-extractability run {run_id} (job {job_id}): {args.n} windows of {args.prefix}+{args.suffix} tokens "
        f"of {corpus.describe()} under {plan.model}")
    code = follow.launch(store, [job_id], args)
    if code == 0 and (args.wait or args.foreground):
        print_windows(store, run_id, top=10)
    return code


def print_windows(store, run_id: int, top: int = 10) -> None:
    """The run's figures, the distribution of correct-prefix lengths, then its ``top``
    windows with the longest correct prefixes."""
    run = store.extractable_run(run_id)
    s = store.extractable_summary(run_id)
    out = console()
    out.print(f"run {run_id}: {s['extractable']} of {s['scored']} windows extractable ({s['rate']:.1%}; "
              f"{run['prefix']}-token prefix, {run['suffix']}-token suffix, greedy); teacher-forced suffix "
              f"tokens right: {s['mean_matches']:.1%}" + (f"; {s['windows'] - s['scored']} not scored yet"
                                                         if s["scored"] < s["windows"] else ""), soft_wrap=True)
    out.print("longest correct prefix: " + "  ".join(f"{k}:{v}" for k, v in s["correct_counts"].items() if v),
              soft_wrap=True)
    room = max(out.width - 40, 10)
    out.print(f"{'window':>6}  {'correct':>7}  {'offset':>6}  document", style="bold")
    for w in store.windows(run_id, limit=top):
        doc = visible(w["doc"])
        out.print(f"{w['id']:>6}  {'-' if w['correct'] is None else w['correct']:>7}  {w['offset']:>6}  "
                  f"{doc if len(doc) <= room else '…' + doc[-room + 1:]}")


def cmd_windows(args) -> int:
    store = open_store(args)
    if args.json:
        run = store.extractable_run(args.run)
        print_json({"run": run, "summary": store.extractable_summary(args.run),
                    "windows": store.windows(args.run, limit=args.top)})
        return 0
    print_windows(store, args.run, args.top)
    return 0


def register(c: Commands) -> None:
    p = c.add("extractable", cmd_extractable,
              "how many training windows greedy decoding reproduces (k-extractability, Carlini et al. 2023)")
    p.add_argument("--model", required=True, metavar="NAME_OR_PATH", help="a Hugging Face id or a local model directory")
    corpus_options(p)
    p.add_argument("--n", type=positive, default=1000, metavar="N", help="windows (default 1000)")
    p.add_argument("--per-document", type=positive, default=1, metavar="K",
                   help="windows a document may give, each at its own seeded offset (default 1)")
    p.add_argument("--prefix", type=positive, default=32, metavar="P", help="prefix tokens (default 32, Pythia's)")
    p.add_argument("--suffix", type=positive, default=32, metavar="S", help="suffix tokens to reproduce (default 32)")
    p.add_argument("--at-start", action="store_true",
                   help="take each window at its document's start (Pythia), not at a seeded offset")
    p.add_argument("--batch-size", type=positive, default=32, metavar="B")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--name", metavar="TEXT")
    device_option(p)
    p.add_argument("--trust-remote-code", action="store_true",
                   help="let the model's repository run its own code (off unless asked)")
    mode_options(p)

    p = c.add("windows", cmd_windows, "a k-extractability run's figures and its windows")
    p.add_argument("--run", type=positive, required=True, metavar="ID")
    p.add_argument("--top", type=positive, default=20, metavar="N")
    add_json(p)
