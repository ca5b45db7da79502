"""The retrieval layer: hybrid (dense + BM25) search over the indexed passages."""
