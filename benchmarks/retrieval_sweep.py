"""Retrieval alone over a gold file, for a grid of fusion settings: evidence recall@k, MRR, characters.

    python benchmarks/retrieval_sweep.py [eval/dev.jsonl]

No LLM is called: each question's passages are scored by the same metrics as `assistant eval`. Use it to see
whether a retrieval knob is worth a full evaluation run. "small-to-big" is how many of the best hits grow by the
passage after them; "grow to" is the size up to which they keep growing by passages that also rank near the top.
Each row is an `Assistant` with those settings (`rrf_k`, `expand`, `grow_chars`, also `ASSISTANT_RRF_K`, ...).
"""

from __future__ import annotations

import itertools
import sys

from assistant import Answer, Assistant
from assistant.evaluation.evaluate import Case, Dataset


def main(gold: str = "eval/dev.jsonl") -> None:
    base = Assistant(llm="fake")
    documents = base.documents
    dataset = Dataset.load(gold, documents)
    k = base.settings.top_k
    print("| RRF_K | small-to-big | grow to | evidence recall@k | MRR | avg chars |\n|---|---|---|---|---|---|")
    for rrf_k, expand, grow in itertools.product((20, 60, 100), (0, 1, 2), (0, 1000, 1400, 2000)):
        if expand == 0 and grow:
            continue  # nothing grows
        assistant = Assistant(base.settings, rrf_k=rrf_k, expand=expand, grow_chars=grow)

        def passages_only(case: Case, assistant: Assistant = assistant) -> Answer:
            hits = assistant.retrieve(case.question)  # what an answer is given, at the settings' top_k
            timings = {"retrieve_s": 0.0, "first_token_s": 0.0, "total_s": 0.0}
            return Answer(case.question, "", False, [], hits, timings)

        name = f"{rrf_k}/{expand}/{grow}"
        s = dataset.evaluate(passages_only, name=name, documents=documents, k=k, progress=False).summary
        recall, mrr, chars = s["evidence_recall"], s["mrr"], s["chars_retrieved"]
        print(f"| {rrf_k} | {expand} | {grow or '-'} | {recall:.3f} | {mrr:.3f} | {chars:,.0f} |")


if __name__ == "__main__":
    main(*sys.argv[1:2])
