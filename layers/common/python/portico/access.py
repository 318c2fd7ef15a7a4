"""Authorization: every route declares who may call it, and everything else is denied.

A route declares its requirement with one of the decorators below, placed under the resolver's
route decorator::

    @app.get("/accounts/<account_id>/security")
    @access.member(Right.USERS)
    def get_security(account_id: str) -> SecuritySettings: ...

:mod:`portico.http` refuses to register a route without a declaration (the module fails to load),
and runs :func:`check` before anything else of a request, including the validation of its body, so
an anonymous caller learns nothing about a body's schema. The authorization matrix
(``tests/integration/test_authorization_matrix.py``) fails naming any route that has no entry
there or whose declaration disagrees with it.

Rules: a missing, invalid, expired or revoked token is ``401 unauthenticated``; user and portal
tokens are different kinds and never stand in for each other; on ``/accounts/{account_id}`` routes a
missing or inactive membership is ``404 not_found`` (existence never leaks across tenants), a
missing right ``403 forbidden``, and an account that enforces 2FA refuses sessions opened without a
second factor with ``403 mfa_required``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from portico.accounts import repository as accounts
from portico.accounts.caller import Caller
from portico.accounts.rights import Right, allows, unavailable
from portico.auth import sessions
from portico.auth.sessions import Session
from portico.errors import Forbidden, NotFound, PorticoError, Unauthenticated, define
from portico.observability import logger
from portico.portal import sessions as portal_sessions
from portico.portal.sessions import PortalSession

F = TypeVar("F", bound=Callable[..., Any])
_ATTRIBUTE = "__portico_access__"

MfaRequired = define("MfaRequired", 403, "mfa_required", "Second Factor Required")


@dataclass(frozen=True)
class Requirement:
    kind: Literal["public", "user", "member", "customer"]
    right: Right | None = None


def _declare(requirement: Requirement) -> Callable[[F], F]:
    def mark(func: F) -> F:
        setattr(func, _ATTRIBUTE, requirement)
        return func

    return mark


def public(func: F) -> F:
    """Anyone may call this route (sign-up, login, recovery)."""
    return _declare(Requirement("public"))(func)


def user(func: F) -> F:
    """Any logged-in merchant user (``/me/...``)."""
    return _declare(Requirement("user"))(func)


def customer(func: F) -> F:
    """A customer logged in to the portal (``/portal/...``), with a portal token."""
    return _declare(Requirement("customer"))(func)


def member(right: Right | None = None) -> Callable[[F], F]:
    """An active member of the path's ``account_id``, holding ``right`` (None: any member)."""
    return _declare(Requirement("member", right))


def requirement_of(func: Callable[..., Any]) -> Requirement | None:
    return getattr(func, _ATTRIBUTE, None)


@dataclass(frozen=True)
class Granted:
    """Who the access check let in: nobody in particular (public), a merchant user's session, a
    member of the path's account, or a portal customer."""

    session: Session | None = None
    caller: Caller | None = None
    customer: PortalSession | None = None


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def check(requirement: Requirement, headers: dict[str, str], path_args: dict[str, str], *, route: str = "") -> Granted:
    """Decide whether a request may reach its route; a PorticoError when it may not, logged as a
    security event (who was refused what, and why; never the token)."""
    seen: dict[str, str] = {}
    try:
        return _decide(requirement, headers, path_args, seen)
    except PorticoError as refused:
        logger.info(
            "access refused",
            extra={"code": refused.code, "status": refused.status, "route": route, "user_id": seen.get("user_id")},
        )
        raise


def _decide(
    requirement: Requirement, headers: dict[str, str], path_args: dict[str, str], seen: dict[str, str]
) -> Granted:
    if requirement.kind == "public":
        return Granted()
    token = _bearer(headers)
    if token is None:
        raise Unauthenticated("Send a session token: Authorization: Bearer <token>.")
    if requirement.kind == "customer":
        return Granted(customer=portal_sessions.authenticate(token))
    session = sessions.authenticate(token)
    seen["user_id"] = session.user_id
    if requirement.kind == "user":
        return Granted(session=session)
    account_id = str(path_args.get("account_id", ""))
    membership, account = (
        accounts.membership_and_account(account_id, session.user_id)
        if account_id.startswith("acc_") and len(account_id) <= 64
        else (None, None)
    )
    if membership is None or account is None or not membership.active or account.opening:
        raise NotFound("No such account.")
    if requirement.right is not None:
        if not allows(membership, requirement.right):
            raise Forbidden(f"This needs the right '{requirement.right.value}'.")
        problem = unavailable(requirement.right, account)  # e.g. payouts after they were switched off
        if problem:
            raise Forbidden(problem)
    if account.security.enforce_mfa and not session.mfa:
        raise MfaRequired("This account requires two-factor authentication; log in again with your second factor.")
    return Granted(session=session, caller=Caller(session=session, membership=membership, account=account))
