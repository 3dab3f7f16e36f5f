"""Evaluation: closed-loop episodes with the measures users report (act-tool eval)."""
