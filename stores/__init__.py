"""Rasa stores named in `endpoints.yml` (Rasa's environment): conversations at
rest, encrypted."""
