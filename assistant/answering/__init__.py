"""The answering layer: reading the question, selecting evidence, grounding citations, deciding refusal."""
