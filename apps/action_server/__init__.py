"""The action server: rasa-sdk's app serving `actions/`, with a shared secret.

    python -m apps.action_server [--host H] [--port P]

Its own environment (`apps/action_server/requirements.txt`: rasa-sdk 3.21, Milvus
Lite, Redis, the embedder). `wiring.py` builds the services and actions from the
settings; `http.py` is the HTTP app and the one place errors become responses.
"""
