"""Who is calling, and what they may do: roles for people, scopes for keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import FrozenSet, Text

from bilingual_assistant.errors import PermissionDeniedError
from bilingual_assistant.knowledge.access import EVERYTHING, Reader

# What a caller may do. A person's role grants scopes (`ROLE_SCOPES`); an API key
# carries the scopes it was issued with.
SCOPES = ("admin", "chat", "feedback", "knowledge:read", "knowledge:write")
ROLES = ("user", "editor", "admin")
ROLE_SCOPES = {
    # Chats and rates; sees answers and their sources, not the document list, the
    # jobs (file names, errors) or other people's hit tests.
    "user": frozenset({"chat", "feedback"}),
    # Also uploads and deletes documents, tests what questions find, follows jobs.
    "editor": frozenset({"chat", "feedback", "knowledge:read", "knowledge:write"}),
    # Everything: reindexing, retraining, feedback review, API keys.
    "admin": frozenset(SCOPES),
}
# The scope a job of each kind needs, to submit it and to retry it.
JOB_SCOPES = {"ingest": "knowledge:write", "reindex": "admin", "retrain": "admin"}


@dataclass(frozen=True)
class Principal:
    """A signed-in person, an API key, or the single user of local mode.

    Attributes:
        subject: stable id: the identity provider's `sub` (`oidc:…`), `key:<id>`,
            or `local`.
        name: what to show (a name, an e-mail, a key's name).
        roles: a person's roles (`ROLES`); empty for a key.
        scopes: what the key was issued for; empty for a person (the roles decide).
        via: `session`, `api_key` or `local`.
        groups: the groups they are in (a person's from the sign-in's groups claim,
            a key's as issued): which documents they may read.
    """

    subject: Text
    name: Text
    roles: FrozenSet[Text]
    scopes: FrozenSet[Text]
    via: Text
    groups: FrozenSet[Text] = frozenset()

    @property
    def reader(self) -> Reader:
        """Which documents they may read: everything for an administrator (and the
        local user), else their groups' and the documents that name no groups."""
        if self.allows("admin"):
            return EVERYTHING
        return Reader(self.groups)

    @property
    def granted(self) -> FrozenSet[Text]:
        """Every scope the caller holds, from its roles and its own."""
        granted = set(self.scopes)
        for role in self.roles:
            granted |= ROLE_SCOPES.get(role, frozenset())
        return frozenset(granted)

    def allows(self, scope: Text) -> bool:
        """Whether the caller holds `scope` (`admin` holds every scope)."""
        return scope in self.granted or "admin" in self.granted

    def require(self, scope: Text) -> None:
        """Raises `PermissionDeniedError` unless the caller holds `scope`."""
        if not self.allows(scope):
            what = "an administrator's role" if scope == "admin" else f"the '{scope}' scope"
            raise PermissionDeniedError(
                f"{self.name} may not do this: it needs {what}. Ask an administrator.")


LOCAL_USER = Principal(subject="local", name="local user", roles=frozenset(ROLES),
                       scopes=frozenset(), via="local")
