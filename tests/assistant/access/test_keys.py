"""API keys: shown once, stored hashed, scoped, expiring, revocable."""

import pytest

from bilingual_assistant.access.keys import ApiKeys, digest
from bilingual_assistant.access.principal import LOCAL_USER, Principal
from bilingual_assistant.errors import (
    AuthenticationError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
)
from tests.fakes.in_memory import InMemoryKeyStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def keys(clock):
    return ApiKeys(InMemoryKeyStore(), clock)


def test_an_issued_key_authenticates_with_its_scopes_and_only_its_hash_is_stored(keys):
    token, record = keys.issue("nightly export", ["chat", "knowledge:read"], days=30)
    assert token.startswith("ba_") and token not in repr(keys.store.records)
    assert record.digest == digest(token.split("_", 2)[2])
    caller = keys.authenticate(token)
    assert caller.subject == f"key:{record.id}" and caller.via == "api_key"
    assert caller.allows("chat") and caller.allows("knowledge:read")
    assert not caller.allows("admin") and not caller.allows("knowledge:write")
    assert keys.store.get(record.id).last_used_at == keys.clock()


def test_two_keys_differ(keys):
    assert keys.issue("a", ["chat"])[0] != keys.issue("a", ["chat"])[0]


@pytest.mark.parametrize("token", [
    "", "nonsense", "ba_000000000000_" + "A" * 43, "Bearer x",
])
def test_malformed_or_unknown_keys_are_refused_with_one_message(keys, token):
    keys.issue("a", ["chat"])
    with pytest.raises(AuthenticationError, match="not valid"):
        keys.authenticate(token)


def test_a_key_with_a_wrong_secret_is_refused(keys):
    token, _ = keys.issue("a", ["chat"])
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(AuthenticationError, match="not valid"):
        keys.authenticate(forged)


def test_an_expired_key_is_refused_and_says_so(keys, clock):
    token, record = keys.issue("short", ["chat"], days=1)
    keys.authenticate(token)
    clock.now += 86400
    with pytest.raises(AuthenticationError, match="expired"):
        keys.authenticate(token)
    assert record.state(clock.now) == "expired"


def test_a_revoked_key_is_refused_at_once_and_revoking_twice_is_harmless(keys):
    token, record = keys.issue("leaked", ["admin"])
    keys.revoke(record.id)
    keys.revoke(record.id)
    with pytest.raises(AuthenticationError, match="revoked"):
        keys.authenticate(token)


def test_revoking_an_unknown_key_says_how_to_find_the_ids(keys):
    with pytest.raises(NotFoundError, match="list them"):
        keys.revoke("nope")


@pytest.mark.parametrize("name, scopes, days, problem", [
    ("", ["chat"], None, "name"),
    ("x" * 81, ["chat"], None, "name"),
    ("a", [], None, "No scope"),
    ("a", ["chat", "root"], None, "root"),
    ("a", ["chat"], 0, "positive"),
    ("a", ["chat"], -3, "positive"),
])
def test_bad_requests_for_a_key_say_what_to_change(keys, name, scopes, days, problem):
    with pytest.raises(InputError, match=problem):
        keys.issue(name, scopes, days)
    assert keys.list() == []


def test_keys_are_listed_newest_first(keys, clock):
    keys.issue("old", ["chat"])
    clock.now += 5
    keys.issue("new", ["chat"])
    assert [r.name for r in keys.list()] == ["new", "old"]


def test_roles_grant_scopes_and_admin_grants_everything():
    user = Principal("oidc:1", "Ann", frozenset({"user"}), frozenset(), "session")
    assert user.allows("chat") and user.allows("feedback")
    with pytest.raises(PermissionDeniedError, match="administrator"):
        user.require("admin")
    with pytest.raises(PermissionDeniedError, match="knowledge:write"):
        user.require("knowledge:write")
    key = Principal("key:1", "ops", frozenset(), frozenset({"admin"}), "api_key")
    assert key.allows("knowledge:write")
    assert LOCAL_USER.allows("admin")


class InFlight(InMemoryKeyStore):
    """A store where one request has read the key's row before a revocation and
    records its use after it: the interleaving a busy server produces."""

    def __init__(self) -> None:
        super().__init__()
        self.before_use = lambda: None

    def mark_used(self, key_id, at):
        self.before_use()
        super().mark_used(key_id, at)


def test_a_request_in_flight_cannot_undo_a_revocation(clock):
    store = InFlight()
    keys = ApiKeys(store, clock)
    token, record = keys.issue("script", ["chat"])
    store.before_use = lambda: keys.revoke(record.id)  # revoked while the request runs
    keys.authenticate(token)  # the request that had already read the row
    store.before_use = lambda: None
    assert store.records[record.id].revoked_at is not None
    with pytest.raises(AuthenticationError, match="revoked"):
        keys.authenticate(token)


def test_revoking_twice_keeps_the_first_time(keys, clock):
    _, record = keys.issue("script", ["chat"])
    first = keys.revoke(record.id).revoked_at
    clock.now += 60
    assert keys.revoke(record.id).revoked_at == first


def test_a_key_reads_the_documents_of_the_groups_it_was_issued_for(keys):
    token, record = keys.issue("payroll bot", ["chat"], groups=["hr", "finance", "hr"])
    assert record.groups == "finance hr"  # sorted, without repeats
    caller = keys.authenticate(token)
    assert caller.groups == {"hr", "finance"}
    assert caller.reader.may_read(("hr",)) and not caller.reader.may_read(("board",))
    assert keys.authenticate(keys.issue("plain", ["chat"])[0]).groups == frozenset()
    assert keys.issue("csv", ["chat"], groups="hr, finance")[1].groups == "finance hr"
    admin = keys.authenticate(keys.issue("ops", ["admin"], groups=["hr"])[0])
    assert admin.reader.may_read(("board",))  # the admin scope reads every document


@pytest.mark.parametrize("groups, problem", [
    (["hr", "not a group"], "not a group name"),
    (["<script>"], "not a group name"),
    ([f"g{n}" for n in range(51)], "at most 50 groups"),
])
def test_a_key_with_bad_groups_is_refused(keys, groups, problem):
    with pytest.raises(InputError, match=problem):
        keys.issue("a", ["chat"], groups=groups)
    assert keys.list() == []
