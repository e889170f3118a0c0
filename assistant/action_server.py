"""The action server: rasa-sdk's Sanic app with a shared secret and safe errors.

    python -m assistant.action_server [--port 5055]

Rasa sends the secret configured as `token` in `endpoints.yml` as `?token=...`;
`ACTION_SERVER_TOKEN` holds it here. Error responses never echo the request
(rasa-sdk's default handler returns the whole tracker).
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
from typing import Any, List, Optional, Sequence, Text

from sanic import Request, Sanic, response
from sanic.exceptions import SanicException

from assistant.settings import Settings, load_settings

logger = logging.getLogger(__name__)

PROTECTED_PATHS = ("/webhook", "/actions")


def _token_of(request: Request) -> Text:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.args.get("token", "")


def build_actions(settings: Settings) -> List[Any]:
    """The actions, sharing one answer service and one weather client.

    The answer service (embedder, Milvus, LLM client, cache) is built here, at
    start-up, not at import time.
    """
    from actions.actions import ActionAskCity, ActionWeather, ValidateWeatherForm
    from actions.answer import ActionAnswerQuestion
    from assistant.answers import build_answer_service
    from assistant.weather import OpenMeteoClient

    weather = OpenMeteoClient(settings.weather)
    service = build_answer_service(settings)
    return [
        ValidateWeatherForm(weather),
        ActionAskCity(),
        ActionWeather(weather),
        ActionAnswerQuestion(service),
    ]


def create_app(actions: Sequence[Any], token: Text) -> Sanic:
    """The Sanic app serving `actions`.

    Args:
        actions: action instances.
        token: the shared secret; empty accepts every call (a warning is logged).

    Returns:
        The app, with `/health`, `/webhook` and `/actions`.
    """
    from rasa_sdk.endpoint import create_app as create_sdk_app
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    for action in actions:
        executor.register_action(action)
    app = create_sdk_app(executor, cors_origins=None)
    if not token:
        logger.warning("action_server.no_token", extra={"hint": "set ACTION_SERVER_TOKEN"})

    @app.on_request
    async def check_token(request: Request) -> Optional[response.HTTPResponse]:
        if token and request.path in PROTECTED_PATHS:
            if not hmac.compare_digest(_token_of(request).encode(), token.encode()):
                logger.warning("action_server.unauthorized", extra={"path": request.path})
                return response.json({"error": "Unauthorized"}, status=401)
        return None

    async def safe_errors(request: Request, exception: Exception) -> response.HTTPResponse:
        if isinstance(exception, SanicException):
            status = exception.status_code
            return response.json({"error": str(exception.message or "error")}, status=status)
        logger.error(
            "action_server.error",
            extra={"path": request.path, "error": type(exception).__name__},
            exc_info=exception,
        )
        return response.json({"error": "The action failed."}, status=500)

    # Replaces rasa-sdk's handler, which returns the request body (the tracker);
    # tests/action_server checks that it is gone.
    app.error_handler.cached_handlers.pop((Exception, None), None)
    app.error_handler.add(Exception, safe_errors)
    return app


def main(argv: Optional[Sequence[Text]] = None) -> None:
    """Command-line entry point."""
    from assistant.logs import configure_logging

    parser = argparse.ArgumentParser(description="Serve the assistant's actions.")
    parser.add_argument("--host", default=os.environ.get("ACTION_SERVER_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args(argv)
    configure_logging("actions")
    settings = load_settings()
    app = create_app(build_actions(settings), settings.action_server.token)
    logger.info("action_server.start", extra={"host": args.host, "port": args.port})
    app.run(host=args.host, port=args.port, single_process=True, access_log=False,
            motd=False)


if __name__ == "__main__":
    main()
