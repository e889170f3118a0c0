"""Retrieval-augmented answers with multi-turn memory and an answer cache."""
