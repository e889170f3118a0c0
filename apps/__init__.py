"""The project's own processes, each in its own folder with one wiring module.

- `action_server`: rasa-sdk's action server (environment: its `requirements.txt`);
- `llm_server`: the embedded LLM behind an OpenAI-compatible API (its own environment);
- `api`: the HTTP API, sign-in and the web pages (the services' environment);
- `worker`: the job worker: indexing, re-indexing, retraining;
- `rasa_server`: starts Rasa's own command line with the HTTP API's token from the
  environment (scripts/rasa-run.sh), never on a command line;
- `cli`: command-line tools (indexing, settings, secrets, API keys, the first start,
  Rasa's credentials file, the answerability model).

Rasa itself (`rasa run`, `rasa shell`) and the knowledge base's Milvus Lite server
are the other two processes; Rasa's parts are the project's `bilingual_assistant/components/`,
`channels/`, `stores/` and Rasa's files at the root. docs/architecture.md lists
them all (a test checks).
"""
