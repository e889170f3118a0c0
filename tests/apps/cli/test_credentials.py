"""Rasa's credentials file without the channels whose secrets are not set."""

from apps.cli.credentials import active_credentials

CREDENTIALS = {
    "rest": None,
    "socketio": {"user_message_evt": "user_uttered"},
    "slack": {
        "slack_token": "${SLACK_BOT_TOKEN}",
        "slack_signing_secret": "${SLACK_SIGNING_SECRET}",
    },
    "telegram": {"access_token": "${TELEGRAM_ACCESS_TOKEN}", "verify": "bot"},
}


def test_channels_without_secrets_are_left_out():
    active, skipped = active_credentials(CREDENTIALS, {"SLACK_BOT_TOKEN": "x"}.get)
    assert list(active) == ["rest", "socketio"]
    assert skipped == ["slack", "telegram"]


def test_channels_with_all_secrets_are_kept():
    env = {"SLACK_BOT_TOKEN": "a", "SLACK_SIGNING_SECRET": "b", "TELEGRAM_ACCESS_TOKEN": "c"}
    active, skipped = active_credentials(CREDENTIALS, env.get)
    assert active == CREDENTIALS and skipped == []
