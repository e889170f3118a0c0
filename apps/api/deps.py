"""The routes' dependencies: the services, who is calling (an API key, a signed-in
browser's session, or the local user), what they may do, and the origin check that
keeps other sites' pages from using a signed-in browser's session."""

from __future__ import annotations

from typing import Annotated, Callable, Text

from fastapi import Depends, Request

from apps.api.services import ApiServices, SignIn
from bilingual_assistant.access.principal import LOCAL_USER, Principal
from bilingual_assistant.errors import AuthenticationError, PermissionDeniedError

# Each router carries this prefix itself and the app includes the routers without
# one: FastAPI keeps a prefix given at inclusion out of the route's own path, the
# pattern the request timer labels a request by (`/chat` instead of `/v1/chat`).
PREFIX = "/v1"
COOKIE = "assistant_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


async def get_services(request: Request) -> ApiServices:
    """The services the app was made over (`app.state.services`)."""
    services: ApiServices = request.app.state.services
    return services


Services = Annotated[ApiServices, Depends(get_services)]


def check_origin(request: Request, sign_in: SignIn) -> None:
    """A page of another site cannot make a signed-in browser change anything.

    Raises:
        PermissionDeniedError: for a change (not GET, HEAD or OPTIONS) whose `Origin`
            is not the assistant's own.
    """
    if request.method not in SAFE_METHODS and \
            request.headers.get("origin", "") != sign_in.origin:
        raise PermissionDeniedError(
            "This request did not come from the assistant's own pages (Origin "
            "header); it was refused.")


def identify(services: ApiServices, request: Request) -> Principal:
    """The caller: an API key, a signed-in browser's session, or the local user.

    Raises:
        AuthenticationError: for no or bad credentials.
        PermissionDeniedError: for a signed-in browser's change sent from another
            site's page.
    """
    sign_in = services.sign_in
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError(
                "Send the API key as `Authorization: Bearer ba_…`.")
        return services.keys.authenticate(token)
    cookie = request.cookies.get(COOKIE)
    if sign_in is not None and cookie:
        principal = sign_in.sessions.principal(cookie)
        check_origin(request, sign_in)
        return principal
    if services.local_user and sign_in is None:
        return LOCAL_USER
    raise AuthenticationError(
        "Sign in (GET /v1/auth/login) or send an API key as `Authorization: Bearer "
        "ba_…`." if sign_in else
        "This service needs an API key: send `Authorization: Bearer ba_…` "
        "(an administrator makes one with `python -m apps.cli.api_keys create`).")


def caller(request: Request) -> Principal:
    """Who is calling (see `identify`); a plain function, so FastAPI runs it on a
    worker thread: an API key is looked up in the database."""
    return identify(request.app.state.services, request)


def needs(scope: Text, *alternatives: Text) -> Callable[[Principal], Principal]:
    """A dependency: the caller, if they have `scope` or one of `alternatives`
    (403 otherwise, naming `scope`)."""
    def check(principal: Principal = Depends(caller)) -> Principal:
        if not any(principal.allows(s) for s in alternatives):
            principal.require(scope)
        return principal
    return check
