"""The project's own processes, each in its own folder with one wiring module.

- `action_server`: rasa-sdk's action server (environment: its `requirements.txt`);
- `llm_server`: the embedded LLM behind an OpenAI-compatible API (its own environment);
- `cli`: command-line tools (indexing, settings, Rasa's credentials file).

Rasa itself (`rasa run`, `rasa shell`) is the fourth process; its parts are the
project's `components/`, `channels/` and Rasa's files at the root.
"""
