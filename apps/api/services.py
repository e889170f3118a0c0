"""What the API's routes and the web UI work over, built once by `apps/api/wiring.py`:
the API keys, Rasa, the knowledge store, the jobs, feedback, the chat history and
sign-in. The routes reach them through `apps/api/deps.py`."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Protocol, Text, Tuple

from bilingual_assistant.access.keys import ApiKeys
from bilingual_assistant.access.oidc import OidcClient
from bilingual_assistant.access.sender_tokens import SenderTokens
from bilingual_assistant.access.sessions import Sessions
from bilingual_assistant.adapters.prometheus import PrometheusRecorder
from bilingual_assistant.adapters.rasa_rest import Reply
from bilingual_assistant.conversations.history import ChatHistory
from bilingual_assistant.encryption import Keyring
from bilingual_assistant.feedback.service import FeedbackService
from bilingual_assistant.jobs.service import Jobs
from bilingual_assistant.knowledge.access import EVERYONE, Reader
from bilingual_assistant.knowledge.hit_testing import HitTester


class Chat(Protocol):
    """Rasa's REST channel (`RasaChat`)."""

    async def send(self, sender: Text, message: Text,
                   metadata: Optional[Dict[Text, Any]] = None,
                   reader: Reader = EVERYONE) -> List[Reply]:
        """One turn asked by `reader` (the documents its answer may use); the
        assistant's replies."""

    async def ready(self) -> bool:
        """Whether Rasa answers."""

    async def understand(self, text: Text) -> Optional[Dict[Text, Any]]:
        """Rasa's intent for a message (`name`, `confidence`), or None."""


class Documents(Protocol):
    """The knowledge store's documents (`MilvusKnowledgeStore`)."""

    def indexed_documents(self) -> Dict[Text, Text]:
        """Source path -> content hash."""

    def document_readers(self) -> Dict[Text, Tuple[Text, ...]]:
        """Source path -> the groups that may read it (empty: everyone)."""

    def version(self) -> Text:
        """The knowledge base's version."""


@dataclass
class SignIn:
    """Sign-in with an identity provider, and the sessions it opens."""

    oidc: OidcClient
    sessions: Sessions
    public_url: Text  # the API as browsers reach it
    # Seals a pending sign-in (state, nonce, PKCE verifier) into the browser's
    # login cookie, so that starting a sign-in writes nothing on the server: the
    # conversations' keys (every replica has them); a key of this process otherwise.
    keyring: Keyring = field(default_factory=lambda: Keyring([("login", os.urandom(32))]))

    @property
    def secure(self) -> bool:
        """Whether cookies are `Secure` (an https address)."""
        return self.public_url.startswith("https://")

    @property
    def origin(self) -> Text:
        """The one web origin whose pages may send the session cookie with changes."""
        scheme, _, rest = self.public_url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"


@dataclass
class ApiServices:
    """What the routes use, built once by `apps/api/wiring.py`."""

    keys: ApiKeys
    hit_tests: HitTester
    chat: Chat
    documents: Documents
    local_user: bool  # single-user local mode
    database_ready: Callable[[], bool]
    jobs: Jobs
    knowledge_dir: Path  # uploads are saved under its `uploads/` folder
    max_upload_bytes: int = 20 * 1024 * 1024
    feedback: Optional[FeedbackService] = None
    history: Optional[ChatHistory] = None  # None: turns are not kept
    sign_in: Optional[SignIn] = None  # None: API keys (and local mode) only
    metrics: Optional[PrometheusRecorder] = None  # None: a registry of the app's own
    metrics_token: Text = ""  # what `/metrics` requires; empty: loopback clients only
    # Signs conversations for Rasa's channels (REST_CHANNEL_SECRET); None: unsigned.
    sender_tokens: Optional[SenderTokens] = None


async def off_loop(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A blocking call (the database, the knowledge store) on a worker thread."""
    return await asyncio.to_thread(function, *args, **kwargs)
