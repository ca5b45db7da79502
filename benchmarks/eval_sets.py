"""Every gold set at once (dev, the three documents, their follow-ups), scored per split, replies cached.

    python benchmarks/eval_sets.py                     # assistant, every set, table by split
    python benchmarks/eval_sets.py --baseline          # the tutorial recipe too
    python benchmarks/eval_sets.py --only dev,oped_ferry --out eval/runs/sets.jsonl
    python benchmarks/eval_sets.py --split test        # only the test items (a prompt change: fewer model calls)

Why: the answer path is tuned on dev + train and reported on test (docs/evaluation.md); this runs them all
the same way in one command. Replies come from `benchmarks/replay_eval.py`'s cache keyed by the exact
prompt, so after a change to grounding or the refusal decision a re-run takes seconds and scores what a live
run would (latency is not meaningful here; `assistant eval` measures it). Each item's refusal signals go to
`--out` for `benchmarks/fit_refusal.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "eval"
sys.path.insert(0, str(HERE))

from replay_eval import ReplayChat  # noqa: E402

from assistant import Assistant, Settings  # noqa: E402
from assistant.evaluation.baseline import Baseline  # noqa: E402
from assistant.evaluation.evaluate import Dataset  # noqa: E402
from assistant.evaluation.report import ItemResult, fmt, summarize  # noqa: E402

SHOWN = (
    "evidence_recall",
    "citation_precision",
    "citation_recall",
    "quotes_verified",
    "refusal_rate",
    "false_refusal_rate",
    "token_f1",
)


def gold_sets() -> list[tuple[str, Path, Path]]:
    """(name, seeds folder, gold file) of every gold set there is."""
    out = [("dev", ROOT / "seeds", SHARED / "dev.jsonl")]
    for folder in sorted(p for p in (SHARED / "docs").iterdir() if p.is_dir()):
        out.append((folder.name, folder, folder / "gold.jsonl"))
        followups = ROOT / "eval" / "followups" / f"{folder.name}.jsonl"
        if followups.exists():
            out.append((f"{folder.name}-followups", folder, followups))
    return out


def split_of(name: str, item: ItemResult) -> str:
    return item.case.split or ("dev" if name == "dev" else "-")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated set names")
    parser.add_argument("--baseline", action="store_true", help="score the tutorial recipe too")
    parser.add_argument("--cache", type=Path, default=ROOT / "eval" / "runs" / "replay-cache.json")
    parser.add_argument("--index-root", type=Path, default=Path("/tmp/doc-assistant-eval-index"))
    parser.add_argument("--out", type=Path, default=None, help="JSONL of every item with its signals")
    parser.add_argument("--llm", default=None)
    parser.add_argument("--setting", action="append", default=[], help="a settings override, e.g. top_k=4")
    parser.add_argument("--quiet", action="store_true", help="no table, only the returned summaries")
    parser.add_argument("--split", default="", help="comma-separated splits to run (dev, train, test) [all]")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = dict(item.split("=", 1) for item in args.setting)
    if args.llm:
        overrides["llm"] = args.llm
    wanted = set(filter(None, args.only.split(",")))
    results: dict[tuple[str, str], list[ItemResult]] = {}
    rows: list[dict[str, Any]] = []
    chat: ReplayChat | None = None
    for name, seeds, gold in gold_sets():
        if wanted and name not in wanted and name.split("-")[0] not in wanted:
            continue
        settings = Settings(seeds_dir=seeds, index_dir=args.index_root / seeds.name, **overrides)
        real = Assistant(settings)
        if chat is None:
            chat = ReplayChat(inner=real.chat, path=args.cache)
        pipelines: dict[str, Any] = {"assistant": Assistant(settings, chat=chat)}
        if args.baseline:
            pipelines["baseline"] = Baseline(settings, chat=chat, k=4)
        documents = pipelines["assistant"].documents
        dataset = Dataset.load(gold, documents)
        if splits := set(filter(None, args.split.split(","))):
            dataset.cases = [c for c in dataset.cases if (c.split or "dev") in splits]
            if not dataset.cases:
                continue
        for pipeline, task in pipelines.items():
            report = dataset.evaluate(task, name=pipeline, documents=documents, progress=False)
            for item in report.items:
                split = split_of(name, item)
                results.setdefault((pipeline, split), []).append(item)
                results.setdefault((pipeline, f"{name}:{split}"), []).append(item)
                if split in ("dev", "train"):
                    results.setdefault((pipeline, "dev+train"), []).append(item)
                rows.append(
                    {
                        "pipeline": pipeline,
                        "set": name,
                        "split": split,
                        "id": item.case.id,
                        "type": item.case.type,
                        "answerable": item.case.answerable,
                        "question": item.case.question,
                        "answer": item.answer.answer,
                        "refused": item.answer.refused,
                        "standalone_question": item.answer.standalone_question,
                        "refusal_reason": item.answer.refusal_reason,
                        "removed": [r.to_dict() for r in item.answer.removed],
                        "cited_lines": [[c.line_start, c.line_end, c.role] for c in item.answer.citations],
                        "signals": item.answer.signals,
                        "metrics": item.metrics,
                    }
                )
            print(f"{pipeline} {name}: {len(report.items)} items", file=sys.stderr, flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    table: dict[str, Any] = {}
    if not args.quiet:
        print("| pipeline | set | items | " + " | ".join(SHOWN) + " |")
        print("|---|---|---|" + "---|" * len(SHOWN))
    for (pipeline, key), items in sorted(results.items(), key=lambda kv: (kv[0][0], ":" in kv[0][1], kv[0][1])):
        summary = summarize(items)
        table[f"{pipeline}/{key}"] = summary
        cells = " | ".join(fmt(k, summary[k]) for k in SHOWN)
        if not args.quiet:
            print(f"| {pipeline} | {key} | {len(items)} | {cells} |")
    if chat is not None:
        print(f"LLM replies: {chat.hits} from the cache, {chat.misses} from the model", file=sys.stderr)
    return table


if __name__ == "__main__":
    main()
