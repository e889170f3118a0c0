"""The embedded LLM: llama.cpp's OpenAI-compatible server over a model from PyPI.

    python -m apps.llm_server [--host H] [--port P] [--threads N] [--prepare-only]

Its own environment (`apps/llm_server/requirements.txt`, llama-cpp-python built
here): the action server talks to it over HTTP like to any OpenAI endpoint.
"""
