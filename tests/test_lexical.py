"""The postings BM25 gives rank_bm25's scores exactly, and ranks like a stable sort."""

from __future__ import annotations

import numpy as np
from conftest import SEED
from rank_bm25 import BM25Okapi

from assistant.documents import load_document
from assistant.retrieval.hybrid import tokenize
from assistant.retrieval.lexical import PostingsBM25, ranked


def test_scores_equal_the_stock_class_on_the_seed() -> None:
    corpus = [tokenize(p.text) for p in load_document(SEED, SEED.parent).passages]
    stock, fast = BM25Okapi(corpus), PostingsBM25(corpus)
    for question in ("why will the split backfire", "Berletic Saudi Arabia", "population of Brazil", "the the"):
        terms = tokenize(question)
        assert np.array_equal(stock.get_scores(terms), fast.get_scores(terms)), question


def test_ranked_drops_zeros_and_keeps_passage_order_on_ties() -> None:
    assert ranked(np.array([0.0, 2.0, 1.0, 2.0, 0.0])).tolist() == [1, 3, 2]
    assert ranked(np.zeros(3)).tolist() == []
