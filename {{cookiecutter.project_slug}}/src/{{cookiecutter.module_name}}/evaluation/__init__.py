"""Stage 3, evaluation: judge the candidate on held-out rows, write its card, and gate what is served."""
