"""Retrieval alone over a gold file, for a grid of fusion settings: evidence recall@k, MRR, characters.

    python benchmarks/retrieval_sweep.py [eval/dev.jsonl]

No LLM is called: each question's passages are scored by the same metrics as `assistant eval`. Use it to see
whether a retrieval knob is worth a full evaluation run.
"""

from __future__ import annotations

import itertools
import sys

from assistant import Answer, Assistant, retrieve
from assistant.evaluate import Case, Dataset


def main(gold: str = "eval/dev.jsonl") -> None:
    assistant = Assistant(llm="fake")
    documents = assistant.documents
    dataset = Dataset.load(gold, documents)
    retriever = assistant.retriever
    k = assistant.settings.top_k
    print("| RRF_K | small-to-big | evidence recall@k | MRR | avg chars |\n|---|---|---|---|---|")
    defaults = retrieve.RRF_K, retriever.expand
    try:
        for rrf_k, expand in itertools.product((20, 40, 60, 100), (0, 1, 2)):
            retrieve.RRF_K, retriever.expand = rrf_k, expand

            def passages_only(case: Case) -> Answer:
                hits = assistant._budget(retriever.search(case.question, k))
                timings = {"retrieve_s": 0.0, "first_token_s": 0.0, "total_s": 0.0}
                return Answer(case.question, "", False, [], hits, timings)

            s = dataset.evaluate(passages_only, name=f"{rrf_k}/{expand}", documents=documents, k=k).summary
            print(f"| {rrf_k} | {expand} | {s['evidence_recall']:.3f} | {s['mrr']:.3f} | {s['chars_retrieved']:,.0f} |")
    finally:
        retrieve.RRF_K, retriever.expand = defaults  # the module constant is shared by every retriever


if __name__ == "__main__":
    main(*sys.argv[1:2])
