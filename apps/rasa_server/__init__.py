"""Starts Rasa's own command line with the HTTP API's token from the environment,
so that the token is never on a command line (`ps` shows every process's)."""
