"""Custom actions: thin rasa-sdk adapters over the library, served by
`python -m apps.action_server` (whose wiring builds the services they are given)."""
