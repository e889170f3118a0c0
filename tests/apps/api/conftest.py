"""What the API's tests share: a local OpenID Connect provider."""

import pytest

from tests.fakes.identity_provider import FakeIdentityProvider


@pytest.fixture
def provider():
    running = FakeIdentityProvider().start()
    yield running
    running.stop()
