"""The benchmark of issue 6 as a script: `python benchmarks/run.py [--quick] [--json] [...]`.

The measuring is in `assistant.bench` (so that `assistant bench` can run it too); this adds the knobs, the
simultaneous chat sessions (`sessions.py`) and the corpus-size curve (`scaling.py`), which the installed
package leaves out. Results go to benchmarks/results/*.json (gitignored), the corpus chart beside them
(`--chart` to put it elsewhere).

    python benchmarks/run.py                 # everything, about 30 minutes on 2 cores
    python benchmarks/run.py --quick         # under two minutes: 2 questions, one run, 10-document corpus
    python benchmarks/run.py --sizes 10 100 --no-ui --json
    python benchmarks/run.py --experiments   # candidate speed-ups, measured against the current code
    python benchmarks/run.py --cold-only --cold-runs 3 --max-load 1   # the cold-start goal alone, ~3 minutes
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scaling import Curve, format_scaling, synthetic_corpus  # noqa: E402
from sessions import format_sessions, served  # noqa: E402

from assistant.bench import BenchOptions, format_report, run  # noqa: E402
from assistant.probes import dev_questions, load_avg  # noqa: E402
from assistant.settings import PROJECT_ROOT, Settings  # noqa: E402


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="Fewer questions and runs, the 10-document corpus only.")
    p.add_argument("--json", action="store_true", help="Print the results as JSON (progress goes to stderr).")
    p.add_argument("--llm", choices=["local", "openai", "fake"], help="LLM backend [local].")
    p.add_argument("--questions", type=int, help="Answerable dev questions for the cold starts and the UI.")
    p.add_argument(
        "--kinds", nargs="*", help="Kinds of question in the mix [fact why who comments unanswerable follow-up]."
    )
    p.add_argument("--mix-limit", type=int, help="At most this many questions of the mix.")
    p.add_argument(
        "--no-shared-docs", action="store_true", help="The mix from the seed only (not ../shared/eval/docs)."
    )
    p.add_argument(
        "--users", type=int, nargs="*", help="Simultaneous chat sessions against the UI [1 2 4; quick: 1 2]."
    )
    p.add_argument("--session-questions", type=int, default=1, help="Questions each simulated user asks [1].")
    p.add_argument("--runs", type=int, help="Passes over the question mix.")
    p.add_argument("--cold-runs", type=int, help="Fresh processes per pipeline for the cold start.")
    p.add_argument("--index-runs", type=int, help="Seed index builds per pipeline.")
    p.add_argument("--retrieval-runs", type=int, help="Passes over the dev questions for retrieval alone.")
    p.add_argument("--sizes", type=int, nargs="*", help="Synthetic corpus sizes in documents [10 100 1000; quick: 10].")
    p.add_argument("--seeds", type=Path, help="Seed documents [seeds/].")
    p.add_argument("--gold", type=Path, help="Dev questions [eval/dev.jsonl].")
    p.add_argument("--work", type=Path, help="Keep the work folder here instead of a temporary one.")
    p.add_argument("--results", type=Path, help="Folder for the results JSON [benchmarks/results].")
    p.add_argument("--chart", type=Path, help="PNG of the corpus curve [benchmarks/results/performance.png].")
    p.add_argument("--vectors", type=Path, help="Text → vector cache for the synthetic corpora (.npz).")
    p.add_argument("--no-vector-cache", action="store_true", help="Embed every synthetic passage for real.")
    p.add_argument("--no-baseline", action="store_true", help="Skip the baseline pipeline.")
    p.add_argument("--no-cold", action="store_true", help="Skip the fresh-process cold starts.")
    p.add_argument("--no-ui", action="store_true", help="Skip `assistant serve` (UI start and its peak RSS).")
    p.add_argument("--no-isolate", action="store_true", help="Measure corpus sizes in this process.")
    p.add_argument(
        "--wait-quiet",
        type=float,
        metavar="S",
        help="Before each timed part wait up to S seconds "
        "until other processes use < 15%% of the CPU (a shared machine).",
    )
    p.add_argument(
        "--max-load",
        type=float,
        metavar="L",
        help="Before each timed part also wait (up to --wait-quiet S, default 600) until the 1-minute load "
        "average is under L.",
    )
    p.add_argument(
        "--cold-only",
        action="store_true",
        help="Only the cold-start goal: --cold-runs pairs of the baseline's fresh process and `assistant serve`.",
    )
    p.add_argument("--experiments", action="store_true", help="Only measure the candidate speed-ups.")
    return p.parse_args(argv)


def options_from(args: argparse.Namespace) -> BenchOptions:
    """`BenchOptions` from parsed arguments (unset ones keep the full or quick defaults), with the sessions and
    the corpus curve as its `served` and `after` hooks."""
    given: dict[str, Any] = {
        "llm": args.llm,
        "questions": args.questions,
        "runs": args.runs,
        "kinds": tuple(args.kinds) if args.kinds else None,
        "mix_limit": args.mix_limit,
        "cold_runs": args.cold_runs,
        "index_runs": args.index_runs,
        "retrieval_runs": args.retrieval_runs,
        "seeds_dir": args.seeds,
        "gold": args.gold,
        "work_dir": args.work,
        "results_dir": args.results,
        "quiet_wait": args.wait_quiet if args.wait_quiet is not None else 600.0 if args.max_load else None,
        "max_load": args.max_load,
        "cold_only": args.cold_only or None,
    }
    given = {k: v for k, v in given.items() if v is not None}
    if args.no_shared_docs:
        given["shared_docs"] = None
    for flag in ("baseline", "cold", "ui"):
        if getattr(args, f"no_{flag}"):
            given[flag] = False
    given["progress"] = lambda line: print(line, file=sys.stderr, flush=True)
    options = BenchOptions.quick(**given) if args.quick else BenchOptions(**given)
    results_dir = args.results or PROJECT_ROOT / "benchmarks" / "results"
    chart = args.chart or results_dir / ("performance-quick.png" if args.quick else "performance.png")
    sizes = tuple(args.sizes) if args.sizes is not None else ((10,) if args.quick else (10, 100, 1000))
    if sizes:
        vectors = None if args.no_vector_cache else args.vectors or results_dir / "vectors.npz"
        options.after = Curve(sizes, not args.no_isolate, vectors, chart, options.progress)
    users = tuple(args.users) if args.users is not None else ((1, 2) if args.quick else (1, 2, 4))
    if users:
        # distinct questions, none asked before in that server (a cached prompt is nearly free)
        fresh = dev_questions(options.gold, None)[max(1, options.ui_questions) :]
        options.served = served(Settings(llm=options.llm), fresh, users, args.session_questions)  # type: ignore[arg-type]
    return options


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the tables (or JSON); 0 on success."""
    args = parse(argv)
    if args.experiments:
        found = experiments(options_from(args))
        print(json.dumps(found, indent=2, ensure_ascii=False))
        return 0
    results = run(options_from(args))
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        print("\n\n".join(filter(None, [format_report(results), format_sessions(results), format_scaling(results)])))
    return 0


# -- candidate speed-ups in modules this script does not own: measured here, applied there ----------------------
def _ms(func: Callable[[], Any], repeat: int = 1) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        func()
    return 1000 * (time.perf_counter() - started) / repeat


def _p50(values: Sequence[float]) -> float:
    return round(float(statistics.median(values)), 2)


def bm25_experiment(
    options: BenchOptions, sizes: Sequence[int], work: Path, questions: list[str]
) -> list[dict[str, Any]]:
    """Lexical half of retrieval, rank_bm25's stock class vs `assistant.lexical`, per corpus size; same top 20?"""
    from rank_bm25 import BM25Okapi

    from assistant.index import load_corpus
    from assistant.retrieval.hybrid import tokenize
    from assistant.retrieval.lexical import PostingsBM25, ranked

    rows = []
    for n in sizes:
        seeds = synthetic_corpus(options.seeds_dir, work / f"corpus-{n}", n)
        passages = load_corpus(Settings(seeds_dir=seeds, index_dir=work / "unused", llm="fake")).passages
        corpus = [tokenize(p.text) for p in passages]
        started = time.perf_counter()
        stock = BM25Okapi(corpus)
        stock_build = time.perf_counter() - started
        started = time.perf_counter()
        fast = PostingsBM25(corpus)
        fast_build = time.perf_counter() - started
        terms = [tokenize(q) for q in questions]

        def stock_rank(t: list[str], stock: Any = stock) -> list[int]:  # HybridRetriever._lexical until 0.2
            scores = stock.get_scores(t)
            return [i for i in sorted(range(len(scores)), key=lambda i: scores[i], reverse=True) if scores[i] > 0][:20]

        def fast_rank(t: list[str], fast: Any = fast) -> list[int]:
            return [int(i) for i in ranked(fast.get_scores(t))[:20]]

        same = all(stock_rank(t) == fast_rank(t) for t in terms)
        rows.append(
            {
                "documents": n,
                "passages": len(passages),
                "stock_ms_p50": _p50([_ms(functools.partial(stock_rank, t)) for t in terms]),
                "postings_ms_p50": _p50([_ms(functools.partial(fast_rank, t)) for t in terms]),
                "stock_build_s": round(stock_build, 2),
                "postings_build_s": round(fast_build, 2),
                "same_top20": same,
                "load": load_avg(),
            }
        )
        print(f"bm25 {rows[-1]}", file=sys.stderr, flush=True)
    return rows


def grounding_experiment(settings: Settings, questions: list[str]) -> dict[str, Any]:
    """What `ground()` spends embedding the retrieved passages' sentences (a sentence-vector cache saves it)."""
    from assistant.core import Assistant
    from assistant.documents import split_sentences
    from assistant.index import embedding_model

    assistant = Assistant(settings)
    model = embedding_model()
    per_answer: list[float] = []
    sentences: list[float] = []
    claims: list[float] = []
    for q in questions:
        retrieved = assistant.retrieve(q)
        texts = [s for r in retrieved for line in r.passage.text.split("\n") for s in split_sentences(line)]
        sentences.append(len(texts))
        per_answer.append(_ms(functools.partial(model.embed_documents, texts)))
        claims.append(_ms(functools.partial(model.embed_documents, [q, q + " Again.", q + " Once more."])))
    return {
        "candidate_sentences_p50": _p50(sentences),
        "embed_candidates_ms_p50": _p50(per_answer),
        "embed_three_claims_ms_p50": _p50(claims),
        "load": load_avg(),
    }


def prompt_experiment(settings: Settings, questions: list[str]) -> dict[str, Any]:
    """Time to first token is prompt evaluation: measure it against prompt size (top-k) and llama options."""
    from llama_cpp import Llama

    from assistant.core import Assistant
    from assistant.probes import Tokens
    from assistant.prompts import answer_prompt

    assistant = Assistant(settings)
    chat = assistant.chat
    at_depth = {settings.top_k: assistant}  # one Assistant per top-k, sharing the loaded model
    tokens = Tokens(chat)
    llama = tokens.llama
    if llama is None:
        return {"skipped": "needs the local LLM"}
    roles = {"system": "system", "human": "user", "ai": "assistant"}

    def messages(q: str, k: int) -> list[dict[str, str]]:
        if k not in at_depth:
            at_depth[k] = Assistant(settings, chat=chat, top_k=k)
        turn = at_depth[k].begin(q)
        built = answer_prompt(settings.prompts_dir).format_messages(**at_depth[k].prompt_input(turn))
        return [{"role": roles.get(m.type, "user"), "content": str(m.content)} for m in built]

    def first_token_s(model: Any, msgs: list[dict[str, str]], fresh: bool) -> float:
        if fresh:
            model.reset()  # forget the KV cache: no shared prefix
        started = time.perf_counter()
        model.create_chat_completion(messages=msgs, max_tokens=1, temperature=0.0)
        return time.perf_counter() - started

    out: dict[str, Any] = {"by_top_k": [], "load_start": load_avg()}
    for k in (6, 4, 3):
        sizes, fresh, prefixed = [], [], []
        for i, q in enumerate(questions):
            msgs = messages(q, k)
            sizes.append(tokens.prompt([_Msg(m) for m in msgs]))
            fresh.append(first_token_s(llama, msgs, fresh=True))
            llama.create_chat_completion(messages=messages(questions[i - 1], k), max_tokens=1)  # other question
            prefixed.append(first_token_s(llama, msgs, fresh=False))  # only the system prompt is shared
        row = {"top_k": k, "prompt_tokens_p50": _p50(sizes), "prompt_eval_s_p50": _p50(fresh),
               "with_system_prefix_cached_s_p50": _p50(prefixed),
               "prompt_tokens_per_s": round(statistics.median(sizes) / statistics.median(fresh), 1)}  # fmt: skip
        out["by_top_k"].append(row)
        print(f"prompt {row}", file=sys.stderr, flush=True)
    variants: dict[str, dict[str, Any]] = {"flash_attn": {"flash_attn": True}, "n_batch_256": {"n_batch": 256}}
    msgs6 = [messages(q, 6) for q in questions]
    for name, extra in variants.items():
        kwargs: dict[str, Any] = {"n_ctx": settings.n_ctx, "n_threads": settings.n_threads, "n_batch": 512}
        kwargs.update(extra)
        model = Llama(model_path=chat.model_path, verbose=False, **kwargs)  # type: ignore[attr-defined]
        times = [first_token_s(model, m, fresh=True) for m in msgs6]
        out[name] = {"prompt_eval_s_p50": _p50(times), "load": load_avg()}
        print(f"variant {name} {out[name]}", file=sys.stderr, flush=True)
        del model
    return out


class _Msg:
    """A chat dict seen as a LangChain message (for `Tokens.prompt`)."""

    def __init__(self, m: dict[str, str]) -> None:
        self.type = {"system": "system", "user": "human", "assistant": "ai"}[m["role"]]
        self.content = m["content"]


def embedding_experiment(settings: Settings) -> list[dict[str, Any]]:
    """MiniLM throughput on the seed's passages by batch size and torch threads (index build speed)."""
    import torch

    from assistant.index import embedding_model, load_corpus

    texts = [p.text for p in load_corpus(settings).passages]
    model = embedding_model()
    client = model._client  # type: ignore[attr-defined]  # the SentenceTransformer
    rows = []
    threads = torch.get_num_threads()
    for n_threads in sorted({1, threads}):
        torch.set_num_threads(n_threads)
        for batch in (16, 32, 64):
            encode = functools.partial(client.encode, texts, batch_size=batch, normalize_embeddings=True)
            seconds = _ms(encode) / 1000
            rows.append({"torch_threads": n_threads, "batch_size": batch,
                         "passages_per_s": round(len(texts) / seconds, 1), "load": load_avg()})  # fmt: skip
            print(f"embed {rows[-1]}", file=sys.stderr, flush=True)
    torch.set_num_threads(threads)
    return rows


def import_experiment(repeat: int = 3) -> dict[str, Any]:
    """Fresh-process cost of `import assistant` and of `assistant --help` (the package imports LangChain)."""
    out = {}
    script = Path(sys.executable).with_name("assistant")
    for name, cmd in (
        ("python_bare_s", [sys.executable, "-c", "pass"]),
        ("import_assistant_s", [sys.executable, "-c", "import assistant"]),
        ("import_langchain_core_s", [sys.executable, "-c", "import langchain_core.language_models"]),
        ("assistant_help_s", [str(script), "--help"]),
    ):
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True, env=dict(os.environ))
            times.append(time.perf_counter() - started)
        out[name] = _p50(times)
    out["load"] = load_avg()
    return out


def experiments(options: BenchOptions) -> dict[str, Any]:
    """Measure the candidate speed-ups named in docs/performance.md against the current code."""
    work = Path(options.work_dir or tempfile.mkdtemp(prefix="assistant-exp-"))
    settings = Settings(
        seeds_dir=options.seeds_dir, index_dir=work / "index", llm=options.llm,  # type: ignore[arg-type]
        feedback_file=work / "feedback.jsonl",
    )  # fmt: skip
    from assistant.index import ensure_index

    ensure_index(settings)
    questions = dev_questions(options.gold, options.questions)
    retrieval_questions = dev_questions(options.gold, 20, answerable=None)
    out: dict[str, Any] = {"load_start": load_avg()}
    out["imports"] = import_experiment()
    out["embedding"] = embedding_experiment(settings)
    out["grounding"] = grounding_experiment(settings, questions)
    sizes = options.after.sizes if isinstance(options.after, Curve) else (10,)
    out["bm25"] = bm25_experiment(options, sizes, work, retrieval_questions)
    out["prompt"] = prompt_experiment(settings, questions[:4])
    out["load_end"] = load_avg()
    return out


if __name__ == "__main__":
    sys.exit(main())
