"""Language models: the chat interface, the embedded models shipped on PyPI, and
the plain prompt format for base models. The HTTP client is in `bilingual_assistant/adapters/`."""
