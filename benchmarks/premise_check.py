"""How often the premise check's one-word verdict is right, on why/since questions with a known premise.

    python benchmarks/premise_check.py [eval/premises.jsonl] [--llm local|fake]

Each line of the file is {"question": ..., "premise_holds": true|false}, written from the seed document (not
dev items). For every question whose premise `assistant.premise` can state, the model is asked YES/NO over the
passages the assistant would retrieve, exactly as in an answer; the script prints each verdict and the count
of right ones. The prompt is prompts/premise.md, so edit it and re-run to compare wordings.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from assistant import Assistant
from assistant.premise import presupposition


def main(argv: list[str] | None = None) -> tuple[int, int]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("gold", nargs="?", default="eval/premises.jsonl")
    parser.add_argument("--llm", default=None, help="backend (default: the settings')")
    args = parser.parse_args(argv)
    assistant = Assistant(**({"llm": args.llm} if args.llm else {}))
    right = asked = 0
    for line in Path(args.gold).read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        premise = presupposition(item["question"])
        if premise is None:
            continue
        retrieved = assistant.retrieve(item["question"])
        denied = assistant.premise_denied(premise, assistant.format_passages(retrieved))
        ok = denied != item["premise_holds"]
        right, asked = right + ok, asked + 1
        print(f"{'ok ' if ok else 'BAD'} {'NO ' if denied else 'YES'} {premise}")
    print(f"{right} of {asked} verdicts right")
    return right, asked


if __name__ == "__main__":
    main()
