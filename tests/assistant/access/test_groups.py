"""A signed-in person's groups (issue #27 item 6): taken from the ID token's groups
claim at sign-in, kept with their session, and what they may read."""

import pytest

from bilingual_assistant.access.oidc import OidcConfig, groups_of
from bilingual_assistant.access.principal import Principal
from bilingual_assistant.access.sessions import Sessions
from tests.fakes.in_memory import InMemorySessionStore

CONFIG = OidcConfig("https://id.example.com", "assistant", "s3cret",
                    "https://assistant.example.com/v1/auth/callback")


@pytest.mark.parametrize("claim, groups", [
    (["hr", "team:payroll", "hr"], {"hr", "team:payroll"}),
    ("hr finance", {"hr", "finance"}),
    (["hr", "not a group", "<b>", "", 7, None], {"hr"}),  # dropped, not refused
    (None, set()),
    ({"hr": True}, set()),
])
def test_the_groups_claim_becomes_the_persons_groups(claim, groups):
    assert groups_of({"sub": "u-1", "groups": claim}, CONFIG) == groups


def test_the_groups_claim_is_configurable_and_capped():
    config = OidcConfig(CONFIG.issuer, "assistant", "s", CONFIG.redirect_uri,
                        groups_claim="teams")
    assert groups_of({"teams": ["hr"], "groups": ["board"]}, config) == {"hr"}
    many = [f"g{n:03}" for n in range(80)]
    kept = groups_of({"groups": many}, CONFIG)
    assert len(kept) == 50 and kept == set(sorted(many)[:50])


def test_a_session_keeps_the_persons_groups():
    sessions = Sessions(InMemorySessionStore())
    ann = Principal("oidc:ann", "Ann", frozenset({"editor"}), frozenset(), "session",
                    groups=frozenset({"hr", "team:payroll"}))
    token = sessions.create(ann)
    assert sessions.principal(token) == ann
    assert sessions.store.get(next(iter(sessions.store.sessions))).groups == "hr team:payroll"
    assert sessions.principal(token).reader.may_read(("hr",))
    assert not sessions.principal(token).reader.may_read(("board",))
