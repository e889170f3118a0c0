"""`/v1/auth/…`: sign-in with the identity provider (authorization code + PKCE), the
session cookie it opens, and sign-out."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse

from apps.api.deps import COOKIE, PREFIX, Services
from apps.api.services import off_loop
from bilingual_assistant.errors import AuthenticationError, NotFoundError

logger = logging.getLogger("apps.api")

router = APIRouter(prefix=PREFIX)


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
    await off_loop(sign_in.logins.add_login, pending)
    return RedirectResponse(url, status_code=302)


@router.get("/auth/callback", tags=["access"])
async def callback(services: Services, state: str = Query("", max_length=200),
                   code: str = Query("", max_length=2000),
                   error: str = Query("", max_length=200)) -> RedirectResponse:
    """The provider's redirect back: checks it, opens a session (an HTTP-only
    cookie) and returns to the page the sign-in started from."""
    sign_in = services.sign_in
    if sign_in is None:
        raise NotFoundError("Sign-in is not configured (OIDC_ISSUER).")
    if error:
        raise AuthenticationError(f"The identity provider refused the sign-in ({error}).")
    pending = await off_loop(sign_in.logins.take_login, state) if state else None
    principal = await off_loop(sign_in.oidc.finish, pending, state, code)
    token = await off_loop(sign_in.sessions.create, principal)
    logger.info("api.signed_in", extra={"subject": principal.subject,
                                        "roles": ",".join(sorted(principal.roles))})
    response = RedirectResponse(pending.next_path if pending else "/", status_code=302)
    response.set_cookie(COOKIE, token, max_age=int(sign_in.sessions.hours * 3600),
                        httponly=True, secure=sign_in.secure, samesite="lax", path="/")
    return response


@router.post("/auth/logout", tags=["access"])
async def logout(request: Request, services: Services) -> JSONResponse:
    """Ends the browser's session."""
    cookie = request.cookies.get(COOKIE)
    if services.sign_in is not None and cookie:
        await off_loop(services.sign_in.sessions.end, cookie)
    response = JSONResponse({"status": "signed out"})
    response.delete_cookie(COOKIE, path="/")
    return response
