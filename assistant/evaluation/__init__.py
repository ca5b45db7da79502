"""The evaluation layer: gold datasets, scoring, reports and the baseline recipe (`assistant eval`)."""
