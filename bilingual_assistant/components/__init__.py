"""Rasa graph components of the assistant (one class per module)."""
