"""Handing a conversation to a person: the queue, claims, replies (issue #28)."""
