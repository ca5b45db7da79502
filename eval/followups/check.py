"""Check the follow-up sets against their documents (stdlib only): python eval/followups/check.py

Each evidence quote must sit inside exactly one line of its document and occur there once; every item has a
history; train and test are the same size; answerable is false exactly for unanswerable items, which carry no
evidence; no question copies six consecutive words of the document or repeats a gold question of the same set.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE.parents[2] / "shared" / "eval" / "docs"
SETS = {"oped_ferry": "oped_ferry.txt", "interview_grid": "interview_grid.md", "repost_water": "repost_water.txt"}
KEYS = {"id", "history", "question", "answer", "evidence", "type", "answerable", "split"}
TYPES = {"fact", "why", "who", "multi", "comments", "unanswerable", "adversarial"}
MIN_EVIDENCE = 40
SHARED_WORDS = 6


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9$%.,']+", text.lower().replace("’", "'"))


def check(name: str, document: str) -> list[str]:
    raw = (DOCS / name / document).read_text(encoding="utf-8")
    lines = raw.splitlines()
    doc_words = words(raw)
    ngrams = {tuple(doc_words[i : i + SHARED_WORDS]) for i in range(len(doc_words) - SHARED_WORDS + 1)}
    gold = {" ".join(words(json.loads(g)["question"])) for g in (DOCS / name / "gold.jsonl").open(encoding="utf-8")}
    items = [json.loads(row) for row in (HERE / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    errors = []
    for dup, count in Counter(i.get("id") for i in items).items():
        if count > 1:
            errors.append(f"duplicate id {dup}")
    for it in items:
        iid = it.get("id", "?")
        if set(it) != KEYS:
            errors.append(f"{iid}: keys {sorted(it)}")
            continue
        if it["type"] not in TYPES or it["split"] not in ("train", "test"):
            errors.append(f"{iid}: type {it['type']!r} or split {it['split']!r}")
        if it["answerable"] != (it["type"] != "unanswerable"):
            errors.append(f"{iid}: answerable={it['answerable']} but type {it['type']}")
        if not it["history"] or not all(isinstance(t, list) and len(t) == 2 for t in it["history"]):
            errors.append(f"{iid}: a follow-up needs a history of [question, answer] pairs")
        if bool(it["evidence"]) != it["answerable"]:
            errors.append(f"{iid}: evidence must be empty exactly when the item is unanswerable")
        for quote in it["evidence"]:
            hits = [n for n, line in enumerate(lines, 1) if quote in line]
            if len(hits) != 1 or raw.count(quote) != 1:
                errors.append(f"{iid}: evidence found {raw.count(quote)}x (lines {hits}): {quote[:60]!r}")
            if len(quote) < MIN_EVIDENCE:
                print(f"  note: {iid} evidence shorter than {MIN_EVIDENCE} characters: {quote!r}")
        qw = words(it["question"])
        if " ".join(qw) in gold:
            errors.append(f"{iid}: the question repeats a gold question")
        copied = [qw[i : i + SHARED_WORDS] for i in range(len(qw) - SHARED_WORDS + 1)]
        if any(tuple(w) in ngrams for w in copied):
            errors.append(f"{iid}: the question copies six words of the document")
    splits = Counter(i.get("split") for i in items)
    if splits["train"] != splits["test"]:
        errors.append(f"train {splits['train']} != test {splits['test']}")
    types = dict(Counter(i.get("type") for i in items))
    print(f"{name}: {len(items)} items, train {splits['train']}, test {splits['test']}, {types}")
    return errors


def main() -> int:
    errors = [f"{name}: {e}" for name, document in SETS.items() for e in check(name, document)]
    for e in errors:
        print("  - " + e)
    print("FAIL" if errors else "OK")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
