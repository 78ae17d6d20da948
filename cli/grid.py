"""``byrote extraction`` (an extraction study: one sampling and one scan per point of a grid
of sampling settings, engine.extraction) and ``byrote points`` (its table). No torch at
import."""
from __future__ import annotations

from cli import follow
from cli.listings import add_json, print_json
from cli.options import (Commands, clean_up_option, corpus_options, device_option, mode_options, open_store, positive,
                         processes, seed)
from cli.show import cell, console, say


def cmd_extraction(args) -> int:
    from cli.extraction import corpus_of
    from engine.launch import check_extraction, create_extraction

    base = dict(n=args.n, seq_len=args.seq_len, top_k=args.top_k, temperature=args.temperature,
                batch_size=args.batch_size, seed=args.seed, rules=args.rules, min_lines=args.min_lines,
                workers=args.workers or 1, clean_up=int(args.clean_up_spaces))
    models = args.model or []
    corpus = corpus_of(args)
    grid, points = check_extraction(models, args.grid or [], base, corpus)
    store = open_store(args, create=True)
    study_id, job_ids = create_extraction(store, args.name, corpus, base, grid, points, args.device)
    say(f"extraction study {study_id}: {len(points)} points ({', '.join(grid) or 'one setting'}), each sampled and "
        f"scanned against {corpus.describe()} (jobs {job_ids[0]}-{job_ids[-1]})")
    code = follow.launch(store, job_ids, args)
    if code == 0 and (args.wait or args.foreground):
        print_points(store, study_id)
    return code


def print_points(store, study_id: int) -> None:
    from rich.table import Table

    from engine.extraction import point_rows

    study = store.extraction_study(study_id)
    table = Table(title=cell(f"extraction study {study_id}: {study['name']} · {study['corpus_label']}"),
                  header_style="bold", box=None)
    for col in ("point", "setting", "state", "outputs", "snippets", "outputs holding one", "share"):
        table.add_column(col, justify="left" if col in ("setting", "state") else "right")
    for r in point_rows(store, study_id):
        table.add_row(str(r["point"]), cell(r["label"]), r["state"],
                      *("-" if r[k] is None else f"{r[k]:,}" for k in ("outputs", "snippets", "memorized_outputs")),
                      "-" if r["share"] is None else f"{r['share']:.1%}")
    console().print(table)


def cmd_points(args) -> int:
    from engine.extraction import point_rows

    store = open_store(args)
    if args.json:
        print_json({"study": store.extraction_study(args.study), "points": point_rows(store, args.study)})
        return 0
    print_points(store, args.study)
    return 0


def register(c: Commands) -> None:
    from engine.clones.rules import DEFAULT_RULES, RULES
    from engine.extraction import GRID_KEYS

    p = c.add("extraction", cmd_extraction, "an extraction study: one sampling and one scan per grid point")
    p.add_argument("--model", action="append", metavar="NAME_OR_PATH",
                   help="a Hugging Face id or a local model directory; several: one point per model")
    corpus_options(p)
    p.add_argument("--grid", action="append", metavar="KEY=V1,V2",
                   help=f"values of one sampling setting ({', '.join(GRID_KEYS)}); several --grid: their product")
    p.add_argument("--n", type=positive, default=1000, metavar="N", help="outputs per point (default 1000)")
    p.add_argument("--seq-len", type=positive, default=512, metavar="L")
    p.add_argument("--top-k", type=positive, default=40, metavar="K")
    p.add_argument("--temperature", type=float, default=1.0, metavar="T")
    p.add_argument("--batch-size", type=positive, default=32, metavar="B")
    p.add_argument("--seed", type=seed, default=0)
    clean_up_option(p)
    p.add_argument("--rules", default=DEFAULT_RULES, choices=RULES)
    p.add_argument("--min-lines", type=positive, default=6, metavar="K")
    p.add_argument("--workers", type=processes, metavar="W", help="scan processes (default 1)")
    p.add_argument("--name", metavar="TEXT")
    device_option(p)
    mode_options(p)

    p = c.add("points", cmd_points, "an extraction study's points and their figures")
    p.add_argument("--study", type=positive, required=True, metavar="ID")
    add_json(p)
