"""`/v1/auth/…`: sign-in with the identity provider (authorization code + PKCE), the
session cookie it opens, and sign-out."""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import secrets
from typing import Optional

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from apps.api import errors
from apps.api.deps import COOKIE, PREFIX, Services, check_origin
from apps.api.services import SignIn, off_loop
from bilingual_assistant.access.oidc import LOGIN_SECONDS, LoginRequest
from bilingual_assistant.errors import (
    AssistantError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
)

logger = logging.getLogger("apps.api")

router = APIRouter(prefix=PREFIX)

# Binds a sign-in to the browser that started it: holds the sign-in's `state`, and
# the callback takes only that state (a callback URL opened in another browser
# signs nobody in). Sent only to /v1/auth, for the sign-in's ten minutes.
LOGIN_COOKIE = "assistant_login"
LOGIN_PATH = f"{PREFIX}/auth"


@router.get("/auth/login", tags=["access"])
async def login(services: Services,
                next_path: str = Query("/", alias="next", max_length=500)
                ) -> RedirectResponse:
    """Sends the browser to the identity provider (authorization code + PKCE);
    `next`: the page to return to."""
    sign_in = services.sign_in
    if sign_in is None:
        raise NotFoundError("Sign-in is not configured (OIDC_ISSUER).")
    url, pending = await off_loop(sign_in.oidc.start, next_path)
    # The pending sign-in lives in the browser's cookie, sealed: starting a sign-in
    # writes nothing on the server, however often it is asked for.
    sealed = sign_in.keyring.seal(json.dumps(dataclasses.asdict(pending)).encode(),
                                  LOGIN_COOKIE.encode())
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(LOGIN_COOKIE, sealed, max_age=LOGIN_SECONDS, httponly=True,
                        secure=sign_in.secure, samesite="lax", path=LOGIN_PATH)
    return response


def opened_login(sign_in: SignIn, cookie: str) -> Optional[LoginRequest]:
    """The pending sign-in sealed in the login cookie, or None (no cookie, another
    browser's, changed, or sealed with a key no longer configured)."""
    try:
        return LoginRequest(**json.loads(sign_in.keyring.open(cookie, LOGIN_COOKIE.encode())))
    except (ValueError, TypeError, AssistantError):
        return None


@router.get("/auth/callback", tags=["access"], response_model=None)
async def callback(request: Request, services: Services,
                   state: str = Query("", max_length=200),
                   code: str = Query("", max_length=2000),
                   error: str = Query("", max_length=200)) -> Response:
    """The provider's redirect back: checks that this browser started the sign-in,
    checks the provider's answer and the access policy, opens a session (an
    HTTP-only cookie) and returns to the page the sign-in started from. A refusal
    is a page saying why."""
    sign_in = services.sign_in
    if sign_in is None:
        raise NotFoundError("Sign-in is not configured (OIDC_ISSUER).")
    try:
        if error:
            raise AuthenticationError(
                f"The identity provider refused the sign-in ({error}).")
        pending = opened_login(sign_in, request.cookies.get(LOGIN_COOKIE, ""))
        if not state or pending is None or not secrets.compare_digest(
                pending.state.encode(), state.encode()):
            raise AuthenticationError(
                "This sign-in was not started in this browser, or took more than ten "
                "minutes; sign in again.")
        principal = await off_loop(sign_in.oidc.finish, pending, state, code)
    except (AuthenticationError, PermissionDeniedError) as refused:
        logger.warning("api.sign_in_refused", extra={"reason": type(refused).__name__})
        status, _ = errors.status_of(refused)
        page = HTMLResponse(
            f"<!doctype html><title>Sign-in refused</title><p>{html.escape(str(refused))}"
            f"</p><p><a href='{LOGIN_PATH}/login'>Sign in again</a></p>", status_code=status)
        page.delete_cookie(LOGIN_COOKIE, path=LOGIN_PATH)
        return page
    token = await off_loop(sign_in.sessions.create, principal)
    logger.info("api.signed_in", extra={"subject": principal.subject,
                                        "roles": ",".join(sorted(principal.roles)),
                                        "groups": len(principal.groups)})
    response = RedirectResponse(pending.next_path if pending else "/", status_code=302)
    response.set_cookie(COOKIE, token, max_age=int(sign_in.sessions.hours * 3600),
                        httponly=True, secure=sign_in.secure, samesite="lax", path="/")
    response.delete_cookie(LOGIN_COOKIE, path=LOGIN_PATH)
    return response


@router.post("/auth/logout", tags=["access"])
async def logout(request: Request, services: Services) -> JSONResponse:
    """Ends the browser's session; only the assistant's own pages may ask (another
    site's page cannot sign a person out)."""
    cookie = request.cookies.get(COOKIE)
    if services.sign_in is not None:
        check_origin(request, services.sign_in)
    if services.sign_in is not None and cookie:
        await off_loop(services.sign_in.sessions.end, cookie)
    response = JSONResponse({"status": "signed out"})
    response.delete_cookie(COOKIE, path="/")
    return response
