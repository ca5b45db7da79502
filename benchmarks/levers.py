"""llama.cpp levers of issue 16, each on the same real prompts, interleaved: `python benchmarks/levers.py`.

    python benchmarks/levers.py                      # batch sizes, flash attention, speculative decoding
    python benchmarks/levers.py --prompts 4 --configs plain,fa,draft4 --json

The prompts are the assistant's answer prompts for the answerable questions of the bench's question mix
(`assistant.probes.question_mix`), built by the answer path itself. Every configuration is its own
`Llama` instance (the weights are one shared mmap), each prompt is evaluated from an empty KV cache
(so every configuration pays for the whole prompt), at temperature 0, and configurations take turns
prompt by prompt so that a burst of load elsewhere hits them all alike.

For speculative decoding it also says *why* the text can differ from plain decoding at temperature 0:
`--why` re-evaluates each plain answer in one batch (as draft verification does) and counts the positions
where the batch's greedy choice is not the token that one-at-a-time decoding chose, with the margin
between the two best logits there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from assistant import Assistant, Settings  # noqa: E402
from assistant.llm import Knobs, LlamaCppChat, open_llama  # noqa: E402
from assistant.probes import question_mix  # noqa: E402
from assistant.settings import PROJECT_ROOT  # noqa: E402

#: name → (knobs, extra `Llama()` arguments)
CONFIGS: dict[str, tuple[Knobs, dict[str, Any]]] = {
    "plain": (Knobs(), {}),
    "ubatch128": (Knobs(n_batch=512, n_ubatch=128), {}),
    "batch256": (Knobs(n_batch=256, n_ubatch=256), {}),
    "batch1024": (Knobs(n_batch=1024, n_ubatch=1024), {}),
    "fa": (Knobs(flash_attn=True), {}),
    "logits_all": (Knobs(), {"logits_all": True}),  # what a draft model forces on, without drafting
    "draft2": (Knobs(draft_tokens=2), {}),
    "draft4": (Knobs(draft_tokens=4), {}),
    "draft10": (Knobs(draft_tokens=10), {}),
    "threads1": (Knobs(), {"n_threads": 1, "n_threads_batch": 1}),
    "threads2": (Knobs(), {"n_threads": 2, "n_threads_batch": 2}),
}


def prompts(n: int, work: Path) -> list[list[dict[str, str]]]:
    """Chat messages of the assistant's answer prompt for the first `n` answerable questions of the mix."""
    shared = PROJECT_ROOT.parent / "shared" / "eval" / "docs"
    corpora, cases = question_mix(PROJECT_ROOT / "seeds", PROJECT_ROOT / "eval" / "dev.jsonl", None, shared)
    out: list[list[dict[str, str]]] = []
    made: dict[str, Assistant] = {}
    for case in cases:  # one question of each kind per document, in turn, so the prompts vary
        if len(out) >= n or case.kind in ("unanswerable", "follow-up"):
            continue
        if case.corpus not in made:
            made[case.corpus] = Assistant(
                Settings(seeds_dir=corpora[case.corpus], index_dir=work / case.corpus, llm="fake")
            )
        assistant = made[case.corpus]
        turn = assistant.begin(case.question)
        if turn.final is not None:
            continue
        messages = assistant.writer(turn.question.kind == "summary").first.invoke(assistant.prompt_input(turn))  # type: ignore[attr-defined]
        roles = {"system": "system", "human": "user", "ai": "assistant"}
        out.append([{"role": roles[m.type], "content": str(m.content)} for m in messages.to_messages()])
    return out


def run_one(llama: Any, messages: list[dict[str, str]], max_tokens: int) -> dict[str, Any]:
    """One answer from an empty KV cache: prompt tokens, time to first token, generation speed, text."""
    llama.reset()
    started = time.perf_counter()
    first = None
    parts: list[str] = []
    for chunk in llama.create_chat_completion(messages=messages, stream=True, max_tokens=max_tokens, temperature=0.0):
        delta = chunk["choices"][0]["delta"].get("content")
        if delta:
            first = first if first is not None else time.perf_counter() - started
            parts.append(delta)
    total = time.perf_counter() - started
    text = "".join(parts)
    n = len(llama.tokenize(text.encode(), add_bos=False)) if text else 0
    gen = total - (first or total)
    return {"ttft_s": first, "total_s": total, "tokens": n, "tok_s": (n - 1) / gen if n > 1 and gen > 0 else None,
            "text": text}  # fmt: skip


def why_differs(llama_all: Any, plain: Any, messages: list[dict[str, str]], text: str) -> dict[str, Any]:
    """Greedy choices of one batched evaluation of prompt + plain answer vs the plain answer's tokens."""
    import numpy as np
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = plain.metadata["tokenizer.chat_template"]
    eos = plain._model.token_get_text(plain.token_eos())
    prompt = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token="").__call__(messages=messages).prompt
    p = plain.tokenize(prompt.encode(), add_bos=False, special=True)
    a = plain.tokenize(text.encode(), add_bos=False, special=False)
    llama_all.reset()
    llama_all.eval(p + a)
    scores = llama_all.scores[len(p) - 1 : len(p) + len(a) - 1]
    choice = scores.argmax(axis=1)
    flips = [i for i, (c, t) in enumerate(zip(choice.tolist(), a, strict=True)) if c != t]
    margins = []
    for i in flips[:5]:
        top = np.sort(scores[i])[-2:]
        margins.append(round(float(top[1] - top[0]), 3))
    return {"answer_tokens": len(a), "batch_disagrees_at": flips[:5], "top2_margin_there": margins}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=6, help="Answer prompts from the question mix [6].")
    ap.add_argument("--configs", default="plain,ubatch128,batch256,fa,logits_all,draft2,draft4",
                    help=f"Comma-separated, of: {', '.join(CONFIGS)}.")  # fmt: skip
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--why", action="store_true", help="Also diagnose why drafted text differs (batch vs single).")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="levers-"))
    msgs = prompts(args.prompts, work)
    settings = Settings()
    chat = Assistant(settings).chat
    assert isinstance(chat, LlamaCppChat), "the levers are llama.cpp's: run with the local model"
    names = args.configs.split(",")
    llamas = {}
    for name in names:
        knobs, extra = CONFIGS[name]
        kw = {"n_threads": settings.n_threads} | {k: v for k, v in extra.items() if k == "n_threads"}
        extra = extra | ({} if "n_threads_batch" in extra else {"n_threads_batch": kw["n_threads"]})
        llamas[name] = open_llama(chat.model_path, settings.n_ctx, kw["n_threads"], knobs,
                                  **{k: v for k, v in extra.items() if k != "n_threads"})  # fmt: skip
        run_one(llamas[name], [{"role": "user", "content": "Hello"}], 1)  # page the weights in
    rows: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for i, m in enumerate(msgs):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            rows[name].append(run_one(llamas[name], m, args.max_tokens))
            r = rows[name][-1]
            print(f"prompt {i} {name}: ttft {r['ttft_s']:.2f} s, {r['tokens']} tokens at {r['tok_s'] or 0:.1f}/s,"
                  f" load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)  # fmt: skip
    plain = rows.get("plain") or rows[names[0]]
    summary = {}
    for name in names:
        rs = rows[name]
        summary[name] = {
            "ttft_s_p50": round(statistics.median(r["ttft_s"] for r in rs), 2),
            "total_s_p50": round(statistics.median(r["total_s"] for r in rs), 2),
            "tok_s_p50": round(statistics.median(r["tok_s"] for r in rs if r["tok_s"]), 1),
            "same_text_as_plain": sum(r["text"] == p["text"] for r, p in zip(rs, plain, strict=True)),
            "prompts": len(rs),
        }
    out: dict[str, Any] = {"summary": summary, "load_end": os.getloadavg()[0]}
    if args.why and "plain" in llamas:
        checker = llamas.get("logits_all") or open_llama(chat.model_path, settings.n_ctx, settings.n_threads,
                                                          Knobs(), logits_all=True)  # fmt: skip
        out["why"] = [why_differs(checker, llamas["plain"], m, r["text"]) for m, r in zip(msgs, plain, strict=True)]
    out["texts"] = {name: [r["text"] for r in rows[name]] for name in names}
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
