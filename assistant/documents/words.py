"""The one stop-word list: English words that carry no topic, left out wherever words are counted or matched.

BM25 (`retrieval/hybrid.py`) and the register score that finds a comment tail (`documents/roles.py`) each add a
few words of their own to it, named where they are used.
"""

from __future__ import annotations

STOP_WORDS = frozenset(
    "a about also an and are as at be but by can could did do does for from had has have he her his how i if in "
    "into is it its me my no not of on or our she should so than that the their them then there these they this "
    "those to was we were what when where which who whom why will with would you your".split()
)
