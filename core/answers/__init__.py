"""Answers: the answer run, prompts, citations, the extractive fallback, translation and feedback."""
