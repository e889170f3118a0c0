"""Custom actions served by rasa-sdk (`rasa run actions`)."""
