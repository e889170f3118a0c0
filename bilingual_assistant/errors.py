"""The library's one exception tree; every message says what to do about it.

    AssistantError
    ├── ConfigurationError      a setting, a model or a file it names is wrong
    │   ├── EncoderLoadError    an encoder folder or package is missing or broken
    │   │   └── ConversionError a packaged encoder could not be converted
    │   └── ModelFileError      a model file (the embedded LLM's, the answerability
    │                           model) cannot be written, verified or used
    ├── InputError              what a user or caller gave cannot be used
    │   ├── DocumentError       a document cannot be read
    │   ├── NotFoundError       what a caller named does not exist
    │   ├── ConflictError       someone else got there first (HTTP 409)
    │   └── AccessError         a caller cannot be let in
    │       ├── AuthenticationError  ... no valid credentials (HTTP 401)
    │       └── PermissionDeniedError  ... valid, but not allowed this (403)
    └── ServiceError            a service the assistant depends on failed
        ├── StoreError          the knowledge store (Milvus)
        ├── LLMError            the language model refused or gave no answer
        │   └── LLMUnavailableError  ... or could not be reached in time
        │       ├── ModelBusyError   ... busy with other questions (not a failure)
        │       └── CircuitOpenError ... not called: it failed too often just now
        └── WeatherError        the weather service

Each process maps the tree to its transport in one place: the action server in
`apps/action_server/http.py`, the command-line tools in `apps/cli/__init__.py`,
the API service in `apps/api/errors.py`, the Rasa components where Rasa expects
`InvalidConfigException`.
"""

from __future__ import annotations


class AssistantError(Exception):
    """The root: an error the library raises on purpose, with a message for people."""


class ConfigurationError(AssistantError):
    """A setting, or a model or file that a setting names, cannot be used."""


class EncoderLoadError(ConfigurationError):
    """An encoder's folder is missing or incomplete, or its package is not installed."""


class ConversionError(EncoderLoadError):
    """A packaged encoder's weights are truncated or not in the expected format."""


class ModelFileError(ConfigurationError):
    """A model file cannot be used: the embedded LLM's packages are missing or its
    joined file fails its checksum; the answerability model is unreadable or was
    measured with another embedder."""


class InputError(AssistantError):
    """Input from a user or a caller cannot be used; the message says what to change."""


class DocumentError(InputError):
    """A document cannot be read; the message names the file and the reason."""


class NotFoundError(InputError):
    """What a caller named (a document, a job, a key) does not exist."""


class ConflictError(InputError):
    """What a caller asked for was taken or changed by someone else first (another
    agent claimed the conversation); the message says what is the case now."""


class AccessError(InputError):
    """A caller cannot be let in; the message says what credentials are needed."""


class AuthenticationError(AccessError):
    """No credentials, or credentials that are forged, expired, revoked or for
    another audience."""


class PermissionDeniedError(AccessError):
    """Valid credentials that do not grant what was asked (a scope or a role)."""


class ServiceError(AssistantError):
    """A service the assistant depends on cannot be reached or failed."""


class StoreError(ServiceError):
    """The knowledge store cannot be reached or used."""


class LLMError(ServiceError):
    """The language model endpoint refused the request or gave an unusable answer."""


class LLMUnavailableError(LLMError):
    """The language model cannot be reached in time (down, overloaded, circuit open)."""


class ModelBusyError(LLMUnavailableError):
    """The model is busy with other questions and cannot take this one in time (not a
    failure of the model: the circuit breaker does not count it)."""


class CircuitOpenError(LLMUnavailableError):
    """The model failed several times in a row and is not called for a while."""


class WeatherError(ServiceError):
    """The weather service failed, timed out or answered something unusable."""
