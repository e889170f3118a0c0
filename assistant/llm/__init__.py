"""Language models: the OpenAI-compatible client and the embedded local server."""
