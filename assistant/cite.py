"""Grounding: turn a model's draft into an answer whose every claim carries a verified quote.

The small local model cites unreliably, so citations and refusal are decided here, in code, from the
retrieved passages: each answer sentence is matched to the source sentence that supports it best (MiniLM
cosine blended with word overlap). A marker that points at a passage which does not support its sentence, or
supports it clearly less well than another passage does, is repaired or dropped; a sentence that puts the
document's words in quotation marks is cited to the sentence holding them, or removed if that sentence does not
support it; a sentence that turns a word of a source sentence it draws on into the opposite ("likely" for
"unlikely", "is naive" for "isn't naive") is removed, and when nothing else is left the answer quotes that
source sentence; a sentence that has a named person say something must cite a sentence from or about that
person; a sentence that nothing supports is removed; numbers that appear in no passage make a
sentence unsupported. An answer left with no supported claim is a refusal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .answer import Citation, Retrieved
from .documents import Document, Passage, Role, split_sentences
from .retrieve import tokenize, voices_named

REFUSAL_TEXT = "The document doesn't say."
_MARKER = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_REFUSAL = re.compile(
    r"^\W*(i (do not|don['’]t) know|i cannot (find|answer)|i can['’]t (find|answer)|there is no (information|mention)"
    r"|(the )?(passages?|document|context|text)s? (do|does) not (say|contain|mention|provide|specify|state|give)"
    r"|no (information|mention)|(this|that) is not (mentioned|stated|specified))",
    re.IGNORECASE,
)
_FRAMING = re.compile(
    r"^(yes|no|not (quite|really|exactly)|(he|she|they|it|that|this) (does|did|do|is|was)( not|n['’]t)?)\b[^.!?]{0,20}[.!?]?$",
    re.IGNORECASE,
)
_META = re.compile(
    r"^(?:(?:no|yes)[,.]?\s+)?(the|this|that|these|those) (passages?|texts?|documents?|context|sources?)( provided| above| given)? "
    r"(discuss|mention|describe|talk|refer|relate|provide|focus|deal|is about|are about|do not|does not)",
    re.IGNORECASE,
)
_MARKER_SUBJECT = re.compile(
    r"(?P<lead>^|(?<=[.!?])\s+|\b(?:yes|no),\s*)(?P<marker>\[\d+(?:\s*,\s*\d+)*\])\s+"
    r"(?:indicates|states|says|shows|notes|mentions|explains|suggests|confirms|reports)\s+(?:that\s+)?"
    r"(?P<claim>[^.!?\[]*)",
    re.IGNORECASE,
)
_DENIAL = re.compile(r"^no\b[,.]?\s+\S.*\b(not|n['’]t|never|nor)\b", re.IGNORECASE)
_CONNECTIVE = re.compile(r"\W*(?:and|or|also|see|both|and also|as well)?\W*", re.IGNORECASE)
_NUMBER = re.compile(r"\d[\d,.]*%?")
# a sentence the model cited to one passage moves to another that supports it this much better: the small model
# often cites the passage beside the one it copied from
_CLEARLY_BETTER = 0.1
# "The author, in [1], states…" / "…, as noted in [2]": the marker alone is the citation; the words around it
# would be left dangling once it is taken out
_INLINE_REF = re.compile(
    r",?\s*\b(?:in|see|per|from|(?:as )?(?:stated|noted|shown|mentioned|seen) in)\s+(\[\d+(?:\s*,\s*\d+)*\])"
    r"(?:\s*,(?=\s)|(?=\s+that\b|\s*[.!?]|\s*$))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Claim:
    """One sentence of the draft answer, with the passage numbers it cited."""

    text: str
    markers: tuple[int, ...]


@dataclass
class Grounded:
    """The final answer text, its citations and whether it is a refusal."""

    text: str
    citations: list[Citation]
    refused: bool
    suspect: bool = False  # a claim leans on a question word that no retrieved passage contains


def is_refusal(text: str) -> bool:
    """Whether a draft opens by saying the passages do not answer the question."""
    return bool(_REFUSAL.search(text.strip()))


def _unquoted(draft: str) -> str:
    """The draft without "> " line prefixes: passages reach the model quoted that way, and it may echo them."""
    return re.sub(r"(?m)^\s*>\s?", "", draft)


def claims_of(draft: str) -> list[Claim]:
    """Split a draft into sentences; markers that open a sentence belong to the one before."""
    claims: list[Claim] = []
    draft = _unquoted(draft)
    draft = _INLINE_REF.sub(r" \1", draft)
    draft = re.sub(r",\s*(\[\d+(?:\s*,\s*\d+)*\])\s*,(?=\s)", r" \1", draft)  # "The author, [1], states"
    draft = _MARKER_SUBJECT.sub(r"\g<lead>\g<claim> \g<marker>", draft)  # "Yes, [1] indicates that X" claims X
    for sentence in split_sentences(draft.strip()):
        lead = re.match(r"^(\s*\[\d+(?:\s*,\s*\d+)*\])+", sentence)
        if lead and claims:
            prev = claims[-1]
            claims[-1] = Claim(prev.text, prev.markers + _markers(lead.group(0)))
            sentence = sentence[lead.end() :].strip()
            if not sentence:
                continue
        markers = _markers(sentence)
        text = _MARKER.sub("", sentence).strip()
        text = text[:1].upper() + text[1:]
        if text and not _CONNECTIVE.fullmatch(text):  # "[1] and [2]" points at passages, it claims nothing
            claims.append(Claim(text, markers))
    return claims


def _markers(text: str) -> tuple[int, ...]:
    return tuple(int(n) for group in _MARKER.findall(text) for n in re.split(r"\s*,\s*", group))


@dataclass(frozen=True)
class _Candidate:
    passage_index: int
    sentence: str


def _candidates(retrieved: Sequence[Retrieved]) -> list[_Candidate]:
    out: list[_Candidate] = []
    for i, r in enumerate(retrieved):
        for line in r.passage.text.split("\n"):
            out.extend(_Candidate(i, s) for s in split_sentences(line) if len(s) > 3)
    return out


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _overlap(claim: str, source: str) -> float:
    words = set(tokenize(claim))
    return len(words & set(tokenize(source))) / len(words) if words else 0.0


def support(claim_vec: Sequence[float], cand_vec: Sequence[float], claim: str, source: str) -> float:
    """How well `source` supports `claim`: meaning (cosine) blended with shared words."""
    return 0.6 * _cosine(claim_vec, cand_vec) + 0.4 * _overlap(claim, source)


# prefixes that make a word its opposite with few false pairs ("in-", "im-", "dis-" have many: form/inform,
# port/import, cover/discover); the stems whose prefixed word is no opposite (unless, unrest, untold, nonstop…)
_NEGATING_PREFIXES = ("un", "non", "il", "ir")
_NOT_OPPOSITES = frozenset({"less", "till", "rest", "told", "earth", "ravel", "stop"})


def flips(claim: str, source: str) -> bool:
    """Whether the claim turns a word of the source into its opposite, in the same context: by a prefix, next to
    a word both share ("…unlikely to abandon…" / "…likely to abandon…"), or by a negator between the same
    subject and word ("Putin isn't naive" / "Putin is naive").

    Why: word overlap and MiniLM both rate "Russia is likely to abandon China" as close to "Russia is unlikely
    to abandon China"; a citation must never lend the source's authority to its opposite. The shared neighbour
    keeps "unlikely to abandon" from clashing with an unrelated "likely to backfire".
    """
    said, there = tokenize(claim), tokenize(source)
    return _turned(said, there) or _turned(there, said) or _negated_apart(claim, source)


_NEGATORS = frozenset({"not", "no", "never", "cannot"})
_LINKS = frozenset(
    "is are was were be been being am do does did has have had will would can could may might must should shall "
    "ca wo also still really actually".split()
)


def _plain_words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", re.sub(r"n['’]t\b", " not", text.lower()))


def _subject_and_negation(words: list[str], i: int) -> tuple[str, bool]:
    """The word before `words[i]` past auxiliaries and negators ("putin" in "Putin isn't naive"), and whether
    a negator stands between them."""
    j, negated = i - 1, False
    while j >= 0 and (words[j] in _LINKS or words[j] in _NEGATORS):
        negated = negated or words[j] in _NEGATORS
        j -= 1
    return (words[j] if j >= 0 else ""), negated


def _negated_apart(claim: str, source: str) -> bool:
    """Whether the same subject and word stand negated in one text and not in the other ("Putin is naive" /
    "Putin isn't naive"): only the negator tells them apart, and neither MiniLM nor word overlap sees it."""
    a, b = _plain_words(claim), _plain_words(source)
    pairs: dict[tuple[str, str], set[bool]] = {}
    for j, word in enumerate(b):
        if len(word) >= 4 and word not in _LINKS:
            subject, negated = _subject_and_negation(b, j)
            if len(subject) >= 3:
                pairs.setdefault((subject, word), set()).add(negated)
    for i, word in enumerate(a):
        if len(word) >= 4 and word not in _LINKS:
            subject, negated = _subject_and_negation(a, i)
            if pairs.get((subject, word)) == {not negated}:
                return True
    return False


def _turned(a: list[str], b: list[str]) -> bool:
    """A word of `a` that `b` has with a negating prefix, next to a word that is next to it in `a` too."""
    for i, word in enumerate(a):
        if len(word) < 4 or word in _NOT_OPPOSITES or word in b:
            continue
        around = set(a[max(i - 1, 0) : i] + a[i + 1 : i + 2])
        for j, other in enumerate(b):
            if other in {p + word for p in _NEGATING_PREFIXES} and around & set(
                b[max(j - 1, 0) : j] + b[j + 1 : j + 2]
            ):
                return True
    return False


def settle_yes_no(question: str, answer: str) -> str:
    """ "Yes, Russia is unlikely to…" to "Is Russia likely to…?" is a "No": the opening word follows the claim.

    Why: the small model opens with "Yes" when its answer restates the question with the opposite word; the
    claim is what the citation supports, so the opening word is the one to correct.
    """
    match = re.match(r"yes\b[,.]?\s*", answer, flags=re.IGNORECASE)
    if not match or not flips(answer[match.end() :].split(".")[0], question):
        return answer  # a "No" stays: "Is it unlikely…?" "No, it is likely…" is consistent
    return f"No, {answer[match.end() :]}"


def locate(quote: str, passage: Passage, document: Document | None) -> tuple[int, int] | None:
    """The inclusive line range of `passage` that holds `quote` verbatim, or None if it is not there."""
    if document is None:
        return (passage.line_start, passage.line_end) if quote in passage.text else None
    for width in range(passage.line_end - passage.line_start + 1):  # narrowest range first
        for start in range(passage.line_start, passage.line_end - width + 1):
            if quote in document.text_of(start, start + width):
                return start, start + width
    return None


def ground(
    draft: str,
    retrieved: Sequence[Retrieved],
    documents: dict[str, Document],
    embed: Callable[[list[str]], list[list[float]]],
    threshold: float,
    question: str = "",
    asked: str | None = None,
    voice: Role | None = None,
    voice_names: dict[Role, set[str]] | None = None,
    max_claims: int | None = None,
    later_within: int | None = None,
) -> Grounded:
    """Attach verified citations to a draft answer, drop what nothing supports, and decide refusal.

    `voice` is the one voice the question asks about, if it names one (`voice_names`: the names the document
    gives each voice); sentences citing another voice then have to say whose words they are. `max_claims`
    keeps only that many cited sentences, the first ones; `later_within` keeps a cited sentence after the
    first only when it cites one of that many best-ranked passages.

    `asked` is the user's own wording when `question` is a rewrite of it. When every word the user asked with
    is in the passages, the rewrite's new words ("total" for "how much") are the rewriter's, not a sign that
    the question reaches past the document, and they make no claim suspect.
    """
    refused = is_refusal(draft)
    claims = claims_of(draft)
    if refused and claims:
        claims = claims[1:]
    candidates = _candidates(retrieved)
    if not candidates:
        return Grounded(REFUSAL_TEXT, [], True)
    if not claims:
        if refused or not _markers(draft) or not question:
            return Grounded(REFUSAL_TEXT, [], True)
        return _extractive(question, _markers(draft), retrieved, candidates, documents, embed)
    vectors = embed([c.text for c in claims] + [c.sentence for c in candidates])
    claim_vecs, cand_vecs = vectors[: len(claims)], vectors[len(claims) :]
    known_numbers = {n.rstrip(".,") for r in retrieved for n in _NUMBER.findall(r.passage.text)}
    uncovered = _uncovered_terms(question, retrieved)
    if asked and asked != question and not _uncovered_terms(asked, retrieved):
        uncovered = set()
    suspect = False

    kept: list[_Kept] = []
    contradicted: _Candidate | None = None  # the first source sentence a dropped claim said the opposite of
    said: list[tuple[str, str, str]] = []  # (source, quote, claim) of the claims kept so far
    for claim, vec in zip(claims, claim_vecs, strict=True):
        if _META.match(claim.text):
            continue  # "The passage discusses…" describes the sources instead of answering from them
        if claim.text.endswith("?"):
            continue  # a question of the model's own ("China's turn to exploit a split?") claims nothing
        numbers = {n.rstrip(".,") for n in _NUMBER.findall(claim.text)}
        if numbers - known_numbers:
            continue  # a figure the document does not contain: never show it
        if _covered(claim.text, uncovered):
            suspect = True  # it uses a question word no passage has ("they agreed on…"): needs a check
        scored = [(support(vec, cand_vecs[j], claim.text, c.sentence), j) for j, c in enumerate(candidates)]
        opposed = [(s, j) for s, j in scored if s >= threshold and flips(claim.text, candidates[j].sentence)]
        if opposed:
            contradicted = contradicted or candidates[max(opposed)[1]]
            continue  # it turns a sentence it draws on into the opposite ("unlikely to backfire"): not true anywhere
        cited_ok = [(s, j) for s, j in scored if candidates[j].passage_index + 1 in claim.markers]
        best = max(cited_ok, default=(0.0, -1))
        if best[0] < threshold or max(scored)[0] - best[0] >= _CLEARLY_BETTER:
            best = max(scored)  # the model's marker is missing, wrong, or points at a weaker source
        quoted = _quoted_phrases(claim.text, question)
        holders = [(s, j) for s, j in scored if quoted and all(q in _plain(candidates[j].sentence) for q in quoted)]
        if holders:
            best = max(holders)  # the sentence it quotes is its source: cited there, or dropped if it misreads it
        if best[0] < threshold:
            if _FRAMING.match(claim.text) and not numbers:
                kept.append(_Kept(claim.text))  # "No." / "He doesn't." framing stays, uncited
            continue
        cand = candidates[best[1]]
        passage = retrieved[cand.passage_index].passage
        if not _speaker_named(claim.text, cand.sentence, passage, voice_names or {}):
            continue  # "Xi Jinping said X" cited to a sentence in which nobody of that name says anything
        lines = locate(cand.sentence, passage, documents.get(passage.source))
        if lines is None:
            continue  # cannot be verified: never shown as if it were
        if any((src, q) == (passage.source, cand.sentence) and _overlap(claim.text, c) >= 0.7 for src, q, c in said):
            continue  # the same point from the same line, said again ("The reader also mentions…")
        said.append((passage.source, cand.sentence, claim.text))
        kept.append(_Kept(attribute(claim.text, passage.role), passage, lines, cand.sentence))
    if voice:
        kept = _in_voice(kept, voice, voice_names or {})
    kept = _trimmed(kept, retrieved, max_claims, later_within)
    citations: list[Citation] = []
    pieces: list[str] = []
    for k in kept:
        if k.passage is None or k.lines is None:
            pieces.append(k.text)
            continue
        citation = _cite(citations, k.passage, k.lines, k.quote)
        pieces.append(with_marker(k.text, citation.n))
    if not citations:
        if contradicted is not None and not refused:  # "Putin is naive [1]" against "Putin isn't naive."
            return _quoting(contradicted, retrieved, documents) or Grounded(REFUSAL_TEXT, [], True)
        return Grounded(REFUSAL_TEXT, [], True)
    text = " ".join(pieces)
    if refused:
        text = f"{REFUSAL_TEXT} {text}"
    return Grounded(text, citations, refused, suspect)


_SPEAKER = re.compile(
    r"^(?:(?i:yes|no)[,.]?\s+)?(?P<name>(?:[A-Z][\w’'-]+\s+){0,2}[A-Z][\w’'-]+)\s+(?:has\s+|had\s+)?"
    r"(?:said|says|told|tells|stated|states|wrote|writes|argued|argues|claimed|claims|announced|announces)\b"
)
_PRONOUN_START = re.compile(r"^\W*(he|she|they|his|her|their|this|that|it)\b", re.IGNORECASE)


def _speaker_named(claim: str, sentence: str, passage: Passage, names: dict[Role, set[str]]) -> bool:
    """Whether the person a claim says spoke ("Xi Jinping said…") is the one the cited sentence is from or about.

    Accepted: the name is in the sentence, or the sentence opens with a pronoun and the name is in its passage,
    or it is a name the document gives the passage's own voice ("Yves says…" citing the editor's note).
    """
    match = _SPEAKER.match(claim)
    if not match:
        return True
    words = [w for w in match.group("name").split() if w.lower() not in {"the", "a", "an", "president"}]
    if not words or words[0].lower() in {"it", "this", "that", "there", "he", "she", "they", "yes", "no"}:
        return True
    if any(w.lower() in names.get(passage.role, set()) for w in words):
        return True
    if all(w in sentence for w in words):
        return True
    return bool(_PRONOUN_START.match(sentence)) and all(w in passage.text for w in words)


def _trimmed(
    kept: list[_Kept], retrieved: Sequence[Retrieved], max_claims: int | None, later_within: int | None
) -> list[_Kept]:
    """The first `max_claims` cited sentences (and the framing among them), where a sentence after the first
    counts only if it cites one of the `later_within` best-ranked passages.

    Why: past its answer the small model runs on, and drifts from the question into passages that retrieval
    ranks low (on the dev and held-out sets, every later sentence citing a passage ranked 4th or lower was off
    the lines that answer).
    """
    top = [r.passage for r in (retrieved if later_within is None else retrieved[:later_within])]
    out: list[_Kept] = []
    cited = 0
    for k in kept:
        if k.passage is not None:
            if cited and not any(k.passage is p for p in top):
                continue
            if cited == max_claims:
                break
            cited += 1
        out.append(k)
    return out


@dataclass(frozen=True)
class _Kept:
    """A sentence of the answer and the source sentence that supports it (none for framing such as "No.")."""

    text: str
    passage: Passage | None = None
    lines: tuple[int, int] | None = None
    quote: str = ""


def _in_voice(kept: list[_Kept], voice: Role, names: dict[Role, set[str]]) -> list[_Kept]:
    """For a question about one voice, drop the sentences that cite another voice without saying whose it is.

    Why: in an answer to "why does the editor think X?", an unlabelled sentence reads as the editor's view; the
    small model adds the author's reasons that way. Kept when the voice asked is cited nowhere (then the
    answer is about who did say it) or when the sentence names the voice it cites ("A commenter adds…").
    """
    if not any(k.passage is not None and k.passage.role == voice for k in kept):
        return kept
    return [
        k for k in kept if k.passage is None or k.passage.role == voice or k.passage.role in voices_named(k.text, names)
    ]


def _extractive(
    question: str,
    markers: tuple[int, ...],
    retrieved: Sequence[Retrieved],
    candidates: list[_Candidate],
    documents: dict[str, Document],
    embed: Callable[[list[str]], list[list[float]]],
) -> Grounded:
    """When the model only points at a passage ("[1]"), quote that passage's sentence closest to the question."""
    pool = [c for c in candidates if c.passage_index + 1 in markers] or candidates
    vectors = embed([question] + [c.sentence for c in pool])
    best = max(range(len(pool)), key=lambda j: _cosine(vectors[0], vectors[j + 1]))
    if _cosine(vectors[0], vectors[best + 1]) < 0.45:
        return Grounded(REFUSAL_TEXT, [], True)
    return _quoting(pool[best], retrieved, documents) or Grounded(REFUSAL_TEXT, [], True)


def _quoting(cand: _Candidate, retrieved: Sequence[Retrieved], documents: dict[str, Document]) -> Grounded | None:
    """The answer "The editor writes: “sentence” [1]", cited; None when the sentence's lines cannot be found."""
    passage = retrieved[cand.passage_index].passage
    lines = locate(cand.sentence, passage, documents.get(passage.source))
    if lines is None:
        return None
    citations: list[Citation] = []
    citation = _cite(citations, passage, lines, cand.sentence)
    return Grounded(quoting(citation), citations, False)


def quoting(citation: Citation) -> str:
    """ "The editor writes: “sentence” [1]": the document's own words, with whose they are."""
    voice = _VOICE_SUBJECT.get(citation.role, "the document").capitalize()
    return f"{voice} writes: {_in_quotes(citation.quote)} [{citation.n}]"


def _in_quotes(sentence: str) -> str:
    """“sentence”, unless it opens with a quotation of its own (“I’m going to…,” Trump said.)."""
    return sentence if sentence[:1] in '“"' else f"“{sentence}”"


def _quoted_phrases(claim: str, question: str) -> list[str]:
    """Words a sentence puts in quotation marks, except those it takes from the question ("the “X” line")."""
    asked = _plain(question)
    phrases = [_plain(q).strip(" .,;:!?") for q in re.findall(r"[\"“]([^\"“”]{3,300})[\"”]", claim)]
    return [p for p in phrases if p and p not in asked]


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[‘’'`]", "", text).lower().split())  # "I’m" and "im" meet


def quoted_source(question: str, retrieved: Sequence[Retrieved], documents: dict[str, Document]) -> Grounded | None:
    """For a question that quotes the document ("who says it is “a tad simplistic”?"): the sentence holding
    the quote, cited, with whose words they are. None when no retrieved sentence holds a quoted phrase.

    Why: the words are the best evidence there is; a small model still answers "I don't know" to these.
    """
    phrases = [_plain(q) for q in re.findall(r"[\"“]([^\"“”]{6,300})[\"”]", question)]
    phrases = [p.strip(" .,;:!?") for p in phrases if len(p.split()) >= 2]
    for cand in _candidates(retrieved) if phrases else []:
        if any(p in _plain(cand.sentence) for p in phrases) and (found := _quoting(cand, retrieved, documents)):
            return found
    return None


_VOICE_SUBJECT = {"author": "the author", "editor": "the editor", "commenter": "a commenter"}
_VOICE_PHRASE = re.compile(
    r"^(?:(?:yes|no)[,.]?\s+)?(?P<lead>according to |in |as )?(?P<voice>the article['’]s author|the article author|the author|"
    r"the article|the editor['’]s note|the editor|the introduction|the commenters?|an? (?:reader|commenter)|"
    r"one (?:reader|commenter)|the reader comments?|the readers?|the comments?|readers|commenters)\b",
    re.IGNORECASE,
)
_NEGATED = re.compile(r"\s+(?:does not|doesn['’]t|did not|didn['’]t|never|is silent|makes no|says nothing)\b", re.I)
_PHRASE_ROLE = {"author": "author", "article": "author", "editor": "editor", "introduction": "editor"}


def attribute(claim: str, role: str) -> str:
    """Correct the voice a sentence opens with ("The author says…") to the voice of the passage it cites."""
    match = _VOICE_PHRASE.match(claim)
    if not match or _NEGATED.match(claim, match.end()):
        return claim  # "The article does not say X [3]" cites a comment on purpose
    phrase = match.group("voice").lower()
    said = next((r for key, r in _PHRASE_ROLE.items() if key in phrase), "commenter")
    if said == role:
        return claim
    replacement = _VOICE_SUBJECT[role]
    lead = match.group("lead") or ""
    if lead:
        replacement = {"author": "the author", "editor": "the editor's note", "commenter": "a commenter"}[role]
    start = match.start("voice")
    if start == 0:
        replacement = replacement[0].upper() + replacement[1:]
    return claim[:start] + replacement + claim[match.end("voice") :]


_GENERIC = frozenset(
    "author article editor note commenter comment reader piece document text passage mention describe "
    "explain tell give actually since reason same many other others really supposedly argument "
    "connection respond relate think thought believe mean means line take make made about there their "
    "which would could should where these those whats according mentions reasons calls".split()
)


def _stems(text: str) -> set[str]:
    """Five-letter prefixes of the longer words: "agreed" and "agreeing" meet at "agree"."""
    return {w[:5] for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 5 and w not in _GENERIC}


def _root(word: str) -> str:
    """The word without a common inflection: "ending" meets "end", which is too short to have a stem."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _uncovered_terms(question: str, retrieved: Sequence[Retrieved]) -> set[str]:
    """Question words (as stems) that occur in none of the retrieved passages, not even inflected."""
    context: set[str] = set()
    roots: set[str] = set()
    for r in retrieved:
        context |= _stems(r.passage.text)
        roots |= {_root(w) for w in re.findall(r"[a-z]+", r.passage.text.lower())}
    words = [w for w in re.findall(r"[a-z]+", question.lower()) if len(w) >= 5 and w not in _GENERIC]
    return {w[:5] for w in words if w[:5] not in context and _root(w) not in roots}


def _covered(claim: str, uncovered: set[str]) -> bool:
    return bool(_stems(claim) & uncovered)


def _cite(citations: list[Citation], passage: Passage, lines: tuple[int, int], quote: str) -> Citation:
    for c in citations:
        if c.source == passage.source and c.quote == quote:
            return c
    citation = Citation(
        n=len(citations) + 1,
        source=passage.source,
        line_start=lines[0],
        line_end=lines[1],
        role=passage.role,
        section=passage.section,
        quote=quote,
        title=passage.title,
        page=passage.page,
    )
    citations.append(citation)
    return citation


def split_denial(draft: str) -> tuple[str, str] | None:
    """ "No, the editor does not praise it. The editor calls it shallow [1]." → the denial and the rest.

    A denial states an absence, which no sentence of the document supports word for word; what supports it is
    the evidence that follows. None when the draft does not open with such a denial or has nothing after it.
    """
    sentences = split_sentences(_unquoted(draft).strip())
    if len(sentences) < 2 or not _DENIAL.match(sentences[0]):
        return None
    return _MARKER.sub("", sentences[0]).strip(), " ".join(sentences[1:])


def with_marker(sentence: str, n: int) -> str:
    """Put `[n]` before the sentence's closing punctuation."""
    match = re.search(r"[.!?…]+[\"”’)]*$", sentence)
    if match:
        return f"{sentence[: match.start()]} [{n}]{sentence[match.start() :]}"
    return f"{sentence} [{n}]"


def verify(citation: Citation, document: Document) -> bool:
    """Whether a citation's quote occurs verbatim in its lines (used by tests and the evaluator)."""
    return citation.quote in document.text_of(citation.line_start, citation.line_end)


# -- what kind of value the question asks for ----------------------------------------------------------------
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|hundred|thousand|million|billion|dozens?|several|a few|many"
)
_KINDS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    # kind: (the question asks for it, a text gives one)
    "share": (
        re.compile(
            r"\b(what|which|by what|how (large|big) an?)\s+(percentage|percent|share|proportion|fraction|rate)\b"
            r"|\bhow many percent\b|\bwhat\s+\w+\s+rate\b",
            re.IGNORECASE,
        ),
        re.compile(
            r"\d\s*(%|percent|per cent)|\b\d+\s*/\s*\d+\b|\b(half|a third|one[- ]third|two[- ]thirds|a quarter|"
            r"one[- ]quarter|three[- ]quarters|a fifth|one[- ]fifth|double|triple|twice)\b",
            re.IGNORECASE,
        ),
    ),
    "year": (
        re.compile(r"\b(what|which|in what)\s+year\b", re.IGNORECASE),
        re.compile(r"\b(1[0-9]|20)\d\d\b|\b\d0s\b"),
    ),
    "count": (
        re.compile(r"\bhow many\b(?!\s+percent)", re.IGNORECASE),
        re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.IGNORECASE),
    ),
}


def asked_kind(question: str) -> str | None:
    """ "share", "year" or "count" when the question asks for that kind of value ("by what percentage…")."""
    return next((kind for kind, (asks, _) in _KINDS.items() if asks.search(question)), None)


def gives_kind(kind: str, text: str) -> bool:
    """Whether `text` holds a value of that kind (a percentage or fraction, a year, a number)."""
    return bool(_KINDS[kind][1].search(text))
