"""Ablations: each policy of the answer path switched off, scored on dev + train and on test.

    python benchmarks/ablate.py            # needs the replies cached by benchmarks/eval_sets.py

Why: a rule stays only if it pays on items it was not read from (docs/evaluation.md). Grounding and refusal
policies do not change the prompt, so their ablations replay from the cache; one that changes the evidence
calls the model for the prompts it changes.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import eval_sets  # noqa: E402

import assistant.answering.grounding as cite  # noqa: E402
import assistant.answering.path as path  # noqa: E402
import assistant.answering.question as question  # noqa: E402

KEYS = ("citation_precision", "citation_recall", "refusal_rate", "false_refusal_rate")


@contextlib.contextmanager
def nothing() -> Iterator[None]:
    yield


def patched(target: Any, name: str, value: Any) -> Callable[[], contextlib.AbstractContextManager[Any]]:
    return lambda: mock.patch.object(target, name, value)


ABLATIONS: list[tuple[str, Callable[[], contextlib.AbstractContextManager[Any]], list[str]]] = [
    ("all policies on", nothing, []),
    (
        "words given to the wrong voice dropped (misattributed) off",
        patched(cite, "misattributed", lambda *a: False),
        [],
    ),
    ("a figure the evidence lacks dropped off", patched(cite, "figures", lambda text: set()), []),
    (
        "a refusal shows the closest line off",
        patched(path.AnswerPath, "_refusal", lambda self, g, e: (cite.REFUSAL_TEXT, [])),
        [],
    ),
    ("follow-up rewrite vetted (keeps_the_question) off", patched(question, "keeps_the_question", lambda *a: True), []),
    ("who-wrote-it questions get the credit lines off", patched(path, "about_credit", lambda q: False), []),
    ("at most three answer sentences off", nothing, ["max_sentences=1000"]),
]


def main() -> None:
    print("| policy | " + " | ".join(f"{k} (dev+train / test)" for k in KEYS) + " |")
    print("|---|" + "---|" * len(KEYS))
    for label, patch, settings in ABLATIONS:
        with patch():
            table = eval_sets.main(["--quiet"] + [f"--setting={s}" for s in settings])
        tuned, test = table.get("assistant/dev+train", {}), table.get("assistant/test", {})
        cells = " | ".join(f"{_f(tuned.get(k))} / {_f(test.get(k))}" for k in KEYS)
        print(f"| {label} | {cells} |", flush=True)


def _f(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    main()
