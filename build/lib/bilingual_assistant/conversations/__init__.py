"""Conversation history: each person's turns with the assistant, as they saw them."""
