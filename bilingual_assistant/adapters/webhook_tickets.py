"""`TicketSink` as an outgoing webhook (`HANDOFF_TICKET_URL`): a JSON POST signed
with HMAC-SHA256 over `<timestamp>.<body>` (`X-Assistant-Signature: sha256=<hex>`,
`X-Assistant-Timestamp`), retried with back-off on a 5xx, 429, timeout or lost
connection; a ticket that still cannot be delivered is kept as a dead letter.

A receiver checks the signature with the shared secret
(`HANDOFF_TICKET_SECRET`), refuses a timestamp more than five minutes old, and
treats a repeated `id` as the same ticket.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import Awaitable, Callable, Sequence, Text

import aiohttp

from bilingual_assistant.errors import ServiceError
from bilingual_assistant.handoff.tickets import DeadLetters, Ticket

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Assistant-Signature"
TIMESTAMP_HEADER = "X-Assistant-Timestamp"
# Seconds waited before each retry: three tries in about three seconds, so that the
# person asking is answered while the helpdesk blinks, not after a minute.
BACKOFF_SECONDS = (0.5, 2.0)
RETRIED = (429, 500, 502, 503, 504)
# Per try: three tries and their waits stay under 18 s, inside the 30 s Rasa gives an
# action, so the person is answered (with the contact) even when the helpdesk hangs.
TIMEOUT_SECONDS = 5.0


def signature(secret: Text, timestamp: Text, body: bytes) -> Text:
    """The signature header's value for a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class WebhookTickets:
    """Posts tickets to a helpdesk's webhook."""

    def __init__(self, url: Text, secret: Text, dead_letters: DeadLetters,
                 timeout_seconds: float = TIMEOUT_SECONDS,
                 backoff_seconds: Sequence[float] = BACKOFF_SECONDS,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Args:
        url: the webhook (`HANDOFF_TICKET_URL`).
        secret: signs each delivery (`HANDOFF_TICKET_SECRET`).
        dead_letters: where undeliverable tickets are kept.
        timeout_seconds: per try.
        backoff_seconds: waits before the second, third, ... try.
        """
        self.url, self.secret, self.dead_letters = url, secret, dead_letters
        self.timeout_seconds, self.backoff_seconds = timeout_seconds, tuple(backoff_seconds)
        self.clock, self.sleep = clock, sleep

    async def send(self, ticket: Ticket) -> None:
        """Delivers a ticket, retrying what may pass.

        Raises:
            ServiceError: when it could not be delivered; it is then a dead letter.
        """
        body = json.dumps(ticket.to_payload(), ensure_ascii=False).encode("utf-8")
        attempts, error = 0, ""
        timeout = aiohttp.ClientTimeout(total=self.timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout) as client:
            for wait in (0.0, *self.backoff_seconds):
                if wait:
                    await self.sleep(wait)
                attempts += 1
                timestamp = str(int(self.clock()))
                try:
                    async with client.post(self.url, data=body, headers={
                            "Content-Type": "application/json",
                            TIMESTAMP_HEADER: timestamp,
                            SIGNATURE_HEADER: signature(self.secret, timestamp, body)},
                            allow_redirects=False) as response:
                        status = response.status
                except (TimeoutError, aiohttp.ClientError) as failure:
                    error = f"{type(failure).__name__}"
                    continue
                if status < 300:
                    logger.info("handoff.ticket_sent",
                                extra={"ticket": ticket.id, "attempts": attempts})
                    return
                error = f"HTTP {status}"
                if status not in RETRIED:
                    break  # the receiver refused it: trying again changes nothing
        logger.error("handoff.ticket_failed",
                     extra={"ticket": ticket.id, "attempts": attempts, "error": error})
        self.dead_letters.add(ticket, error, attempts)
        raise ServiceError(f"The helpdesk's webhook did not take the ticket ({error}, "
                           f"{attempts} tries); it is kept as a dead letter.")
