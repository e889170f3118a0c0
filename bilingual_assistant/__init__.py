"""The assistant's shared library: what it knows and decides, without a process.

Pure: no web framework, no Rasa or rasa-sdk, no `print`; `config` is the only
module that reads the environment, and `errors` holds the one exception tree.
Processes (`apps/`), Rasa's components (`bilingual_assistant/components/`, `channels/`) and the
actions (`actions/`) import it; it imports none of them (`make lint` checks).
"""

# The release (CHANGELOG.md); the HTTP API's own version is its path prefix, /v1.
__version__ = "0.1.0"
