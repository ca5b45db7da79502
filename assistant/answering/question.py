"""A question, read once: its text, the standalone form the model answers, the query retrieval runs, its kind
and the voices it names.

Retrieval and answering both take this value, so a question is never read twice in two ways.

Follow-ups: only a question asked with history that leans on it (words that point back, an opening "and" or a
correction, or too few words to stand alone) is rewritten, and a rewrite is accepted only when it keeps what the
user said: every voice the user named (a "what do the commenters think?" never becomes a question about the
author), every figure, most of the user's content words (a pronoun's verb may change, the subject may not be
dropped), no placeholder ("[insert …]"), and it is still a question. Otherwise the model answers the user's own
words and only the search adds the previous question, so a failed rewrite can blur retrieval but never puts a
question in the user's mouth.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AssistantError, QuestionError
from ..prompts import load_prompt
from ..retrieval.hybrid import tokenize, voices_named
from ..voices import Role
from .grounding import figures
from .overview import kind_of

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

History = Sequence[tuple[str, str]]
# what makes a question lean on the conversation: words that point back, an opening connective, or so few words
# that the rest is left out ("and the commenters?"); a question without any of these stands alone
_POINTS_BACK = re.compile(
    r"^(and|but|so|also|then|what about|how about|what else|no\b,?|i meant)\b|\b(it|its|that|this|they|them|he|"
    r"him|she|his|her|their|those|these|there|the same|the other|former|latter)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Question:
    """What was asked, as every later step needs it."""

    text: str  # the user's own words, cleaned
    standalone: str  # what the model answers: `text`, or the accepted rewrite of a follow-up
    kind: str | None = None  # "outline", "summary" or None
    voices: frozenset[Role] = field(default_factory=frozenset)  # the voices the user's own words name
    rewritten: bool = False
    search: str = ""  # what retrieval and evidence selection look for (`standalone` unless a rewrite failed)

    def __post_init__(self) -> None:
        if not self.search:
            object.__setattr__(self, "search", self.standalone)

    @property
    def voice(self) -> Role | None:
        """The one voice asked about, when exactly one is named."""
        return next(iter(self.voices)) if len(self.voices) == 1 else None


def clean_question(question: str, max_chars: int) -> str:
    """Normalise a question; reject empty or over-long ones with a message that says what to do."""
    if not isinstance(question, str):
        raise QuestionError("The question must be text.")
    text = unicodedata.normalize("NFC", question)
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise QuestionError("The question is empty. Type a question about the document.")
    if len(text) > max_chars:
        raise QuestionError(
            f"The question is {len(text):,} characters long; the limit is {max_chars:,} "
            "(ASSISTANT_MAX_QUESTION_CHARS). Ask about one thing at a time."
        )
    return text


def keeps_the_question(user: str, rewrite: str, names: dict[Role, set[str]] | None = None) -> bool:
    """Whether a rewrite of `user` keeps what the user asked: voices, figures, most content words; no placeholder.

    Why "most": a rewrite that resolves "they" may reword the verb ("get" → "receive"); a single-word subject
    ("what about the ferry?") must stay, so fewer than half of three or more content words may change, none of
    one or two.
    """
    if not rewrite or "[" in rewrite or len(rewrite) > 3 * len(user) + 200:
        return False
    if user.rstrip().endswith("?") and not rewrite.rstrip().endswith("?"):
        return False  # an answer or a statement is not a rewrite of a question
    if not figures(user) <= figures(rewrite):
        return False
    words = set(tokenize(user))
    if len(words - set(tokenize(rewrite))) > (len(words) - 1) // 2:
        return False
    return voices_named(user, names) <= voices_named(rewrite, names)


def leans_on_history(question: str) -> bool:
    """Whether a question needs the conversation to be understood (a follow-up), by its own words."""
    return bool(_POINTS_BACK.search(question)) or len(question.split()) <= 3


def read_question(
    text: str,
    history: History | None,
    rewrite: Callable[[str, History], str] | None,
    names: dict[Role, set[str]] | None = None,
) -> Question:
    """Read a (cleaned) question once: rewrite a follow-up when there is history, then its kind and voices.

    `rewrite(question, history)` is the model call that makes a follow-up stand alone; it runs only with history.
    """
    standalone, search, rewritten = text, text, False
    if history and rewrite is not None and leans_on_history(text):
        candidate = rewrite(text, history)
        if candidate.strip().lower() != text.lower() and keeps_the_question(text, candidate, names):
            standalone = search = candidate
            rewritten = True
        else:
            search = f"{history[-1][0]} {text}"
    voices = voices_named(text, names) or voices_named(search, names)
    return Question(text, standalone, kind_of(standalone), frozenset(voices), rewritten, search)


def condense(chat: BaseChatModel, prompts_dir: Path, question: str, history: History) -> str:
    """The model's rewrite of a follow-up into a question that stands alone ("" when it fails; `read_question` vets it)."""
    turns = "\n".join(f"User: {q}\nAssistant: {a}" for q, a in list(history)[-3:])
    prompt = load_prompt(prompts_dir, "condense").format(history=turns, question=question)
    try:
        reply = str(chat.bind(max_tokens=96).invoke(prompt).content).strip()
        return reply.removeprefix("Rewritten:").strip().strip('"').splitlines()[0].strip()
    except (IndexError, AssistantError):
        return ""
