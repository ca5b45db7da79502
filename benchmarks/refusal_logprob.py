"""The model's own "I don't know", as a number: log P("The document doesn't say.") under each answer prompt.

    python benchmarks/refusal_logprob.py --out eval/runs/logprob.jsonl        # every set, every split

Why: the refusal decision (assistant/answering/refusal.py) reads the model's refusal only when greedy decoding
writes it. A question the model is unsure about can still give the refusal a fair share of its probability;
this measures that share for every gold item (the answers themselves come from the replay cache, so the
scores are the product's), so `--fit` can say on dev + train whether a threshold on it separates answerable
from unanswerable items, and what it does on test.

Costs one prompt evaluation per item with the local model (no generation), about 5 s each on a quiet 2-core
machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from eval_sets import main as eval_sets  # noqa: E402
from replay_eval import ReplayChat  # noqa: E402

from assistant.answering.grounding import REFUSAL_TEXT  # noqa: E402

_SCORES: dict[str, float] = {}


def refusal_logprob(llama: Any, chat: list[dict[str, str]]) -> float:
    """log P(REFUSAL_TEXT as the whole start of the reply | the chat), summed over its tokens."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata["tokenizer.chat_template"]
    eos, bos = llama.token_eos(), llama.token_bos()
    formatter = Jinja2ChatFormatter(
        template=template,
        eos_token=llama.detokenize([eos], special=True).decode("utf-8", "replace") if eos != -1 else "",
        bos_token=llama.detokenize([bos], special=True).decode("utf-8", "replace") if bos != -1 else "",
    )
    formatted = formatter(messages=chat)
    prompt = llama.tokenize(formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True)
    target = llama.tokenize(REFUSAL_TEXT.encode("utf-8"), add_bos=False, special=False)
    llama.reset()
    llama.eval(prompt)
    total = 0.0
    for token in target:
        # without logits_all llama-cpp-python keeps no scores; the context holds the last position's logits
        row = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),)).astype(np.float64)
        top = float(row.max())
        total += float(row[token]) - (top + math.log(float(np.exp(row - top).sum())))
        llama.eval([token])
    llama.reset()  # the next generation starts clean (llama.cpp's prefix reuse would otherwise see these tokens)
    return total


class ScoringChat(ReplayChat):
    """Replays answers from the cache and scores the refusal under every answer prompt."""

    def _reply(self, messages: Any, stop: list[str] | None, **kwargs: Any) -> str:
        text = super()._reply(messages, stop, **kwargs)
        human = str(messages[-1].content)
        if "Evidence:" in human and "Question:" in human:
            question = human.rsplit("Question:", 1)[1].strip()
            if question not in _SCORES:
                roles = {"system": "system", "human": "user", "ai": "assistant"}
                chat = [{"role": roles.get(m.type, "user"), "content": str(m.content)} for m in messages]
                _SCORES[question] = refusal_logprob(self.inner.llama(), chat)
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--split", default="")
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    import eval_sets as module

    module.ReplayChat = ScoringChat  # type: ignore[misc]
    items = args.out.with_suffix(".items.jsonl")
    argv = ["--out", str(items), "--quiet"]
    if args.split:
        argv += ["--split", args.split]
    if args.only:
        argv += ["--only", args.only]
    eval_sets(argv)
    rows = [json.loads(line) for line in items.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        asked = row.get("standalone_question") or row["question"]
        row["refusal_logprob"] = _SCORES.get(asked)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    scored = sum(r["refusal_logprob"] is not None for r in rows)
    unmatched = set(_SCORES) - {r.get("standalone_question") or r["question"] for r in rows}
    if unmatched:
        print(f"prompts matched to no item: {sorted(unmatched)[:5]}", file=sys.stderr)
    print(f"{scored} of {len(rows)} items scored -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
