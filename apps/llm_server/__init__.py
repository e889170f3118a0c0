"""The embedded LLM: llama.cpp (xllamacpp's prebuilt wheel) over a model from PyPI,
behind an OpenAI-compatible HTTP app with a key.

    python -m apps.llm_server [--host H] [--port P] [--threads N] [--prepare-only]

Its own environment (`apps/llm_server/requirements.txt`, nothing compiled
here): the action server talks to it over HTTP like to any OpenAI endpoint.
"""
