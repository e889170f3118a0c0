"""The API service: chat, hit testing, knowledge documents and API keys over HTTP."""
