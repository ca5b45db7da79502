"""The voices a document speaks in: one registry of their names, labels and the words that name them.

A paragraph's *role* is one of three voices: the ``editor`` (an editor's note before the article), the
``author`` (the article itself) and a ``commenter`` (reader comments after it); `documents/roles.py` decides
which. Within a voice the evidence may name a person: an interviewee or the interviewer of an interview turn,
the handle that signs a comment, or the person whose words a sentence reports (`answering/evidence.py`).
Everything that spells these out (how a citation labels a voice, how an answer names it, the words a question
or an answer uses for it) reads it from here.
"""

from __future__ import annotations

import re
from typing import Literal

Role = Literal["editor", "author", "commenter"]
ROLES: tuple[Role, ...] = ("editor", "author", "commenter")

#: How a citation and an evidence header label each voice ("chunk", the baseline's role, shows as itself).
LABEL: dict[str, str] = {"author": "article author", "editor": "editor's note", "commenter": "reader comment"}

#: How an answer names a voice when it says who says something ("the editor's note says …").
PHRASE: dict[Role, str] = {"editor": "the editor's note", "commenter": "a commenter", "author": "the author"}

#: The words a question uses to ask about a voice ("what do the commenters say", "does the article claim").
ASKED: dict[Role, re.Pattern[str]] = {
    "commenter": re.compile(r"\b(comment\w*|readers?|repl(y|ies)|thread|discussion below)\b", re.I),
    "editor": re.compile(r"\b(editor\w*|intro\w*|preface|head ?note|foreword)\b", re.I),
    "author": re.compile(r"\b(author\w*|article|writer|essay|op-?ed|the piece)\b", re.I),
}

#: The words an answer sentence uses to give its words to a voice ("the author argues …").
GIVEN: dict[str, re.Pattern[str]] = {
    "author": re.compile(r"\b(the )?(author|writer|columnist|article|op-?ed|essay)\b", re.I),
    "editor": re.compile(r"\b(the )?editors?\b|\beditor['’]s note\b", re.I),
    "commenter": re.compile(r"\b(commenters?|readers?|comments?)\b", re.I),
}

#: The verbs with which an answer sentence gives words to a voice ("argues", "writes", "thinks").
SAYING = re.compile(
    r"\b(says?|said|argues?|argued|writes?|wrote|calls?|called|claims?|claimed|thinks?|believes?|warns?|notes?|"
    r"describes?|insists?|suggests?|predicts?|views?|sees?|considers?)\b",
    re.I,
)

#: Any voice an answer sentence names, with its article, to be replaced by the right speaker.
NAMED = re.compile(
    r"\b(?:the |a |one )?(?:article['’]?s? )?(?:authors?|writers?|columnists?|editors?['’]? ?(?:note)?|"
    r"commenters?|readers?(?: comments?)?|article|op-?ed|essay)\b",
    re.I,
)

# The speakers within a voice, as an evidence sentence's `speaker` spells them.
INTERVIEWER = "the interviewer"  # a "Q:" turn
_IN_INTERVIEW = " (in the interview)"  # "Trevik (in the interview)": a named interview turn
_COMMENT_BY = f"{LABEL['commenter']} by "  # "reader comment by NarrowsNative": a signed comment


def interviewee(name: str) -> str:
    """The speaker of a named interview turn: "Trevik (in the interview)"."""
    return f"{name}{_IN_INTERVIEW}"


def comment_by(handle: str) -> str:
    """The speaker of a signed comment: "reader comment by NarrowsNative"."""
    return f"{_COMMENT_BY}{handle}"


def interviewee_of(speaker: str) -> str | None:
    """The name in an interview turn's speaker ("Trevik"), or None."""
    return speaker.removesuffix(_IN_INTERVIEW) if speaker.endswith(_IN_INTERVIEW) else None


def commenter_of(speaker: str) -> str | None:
    """The handle in a signed comment's speaker ("NarrowsNative"), or None."""
    return speaker.removeprefix(_COMMENT_BY) if speaker.startswith(_COMMENT_BY) else None
