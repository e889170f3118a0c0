"""Command-line tools, each `python -m apps.cli.<tool> --help`:

- `ingest`: index a folder of documents into the knowledge store (`make index`);
- `settings`: the settings as this environment sees them, checked (`make settings`);
- `credentials`: Rasa's credentials file without the channels that are not set up;
- `api_keys`: make, list and revoke the API service's keys;
- `answerability`: train the answerability model (`make answerability`);
- `verifier`: train and measure the cross-encoder verifier (`make verifier`, in
  Rasa's environment).

Errors of the library end a tool with one line on stderr (`apps/entrypoint.py`).
"""
