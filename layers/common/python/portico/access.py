"""Authorization: every route declares who may call it, and everything else is denied.

A route declares its requirement with one of the decorators below, placed under the resolver's
route decorator::

    @app.get("/accounts/<account_id>/security")
    @access.member(Right.USERS)
    def get_security(account_id: str) -> SecuritySettings: ...

:func:`install` puts a check in front of request validation (so an anonymous caller learns nothing
about a body's schema). The check fails closed: a route with no declaration answers 403 and logs
an error, and the authorization matrix (``tests/integration/test_authorization_matrix.py``) fails
naming any route that has no entry there or whose declaration disagrees with it.

Rules (contract section 3): a missing, invalid, expired or revoked token is ``401
unauthenticated``; user and portal tokens are different kinds and never stand in for each other;
on ``/accounts/{account_id}`` routes a missing or inactive membership is ``404 not_found`` (existence
never leaks across tenants), a missing right ``403 forbidden``, and an account that enforces 2FA
refuses sessions opened without a second factor with ``403 mfa_required``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from portico import audit, keys, store
from portico.auth import sessions
from portico.errors import Forbidden, NotFound, PorticoError, Unauthenticated, define
from portico.observability import logger
from portico.portal import sessions as portal_sessions
from portico.rights import Right, allows, unavailable

F = TypeVar("F", bound=Callable[..., Any])
_ATTRIBUTE = "__portico_access__"


MfaRequired = define("MfaRequired", 403, "mfa_required", "Second Factor Required")


@dataclass(frozen=True)
class Requirement:
    kind: str  # "public", "user", "member", "customer"
    right: Right | None = None


@dataclass(frozen=True)
class Caller:
    session: sessions.Session
    membership: dict[str, Any] | None = None
    account: dict[str, Any] | None = None

    @property
    def actor(self) -> audit.Actor:
        return audit.Actor("user", self.session.user_id, self.session.email)


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


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _check(app: Any) -> None:
    route = app.context.get("_route")
    if route is not None and route not in app._static_routes and route not in app._dynamic_routes:
        raise NotFound("No such resource.")  # the resolver's own not-found route: nothing to protect
    requirement = requirement_of(route.func) if route else None
    if requirement is None:
        logger.error("route declares no access requirement; denied", extra={"route": getattr(route, "path", None)})
        raise Forbidden("This route is not available.")
    if requirement.kind == "public":
        return
    token = _bearer(app.current_event.headers)
    if token is None:
        raise Unauthenticated("Send a session token: Authorization: Bearer <token>.")
    if requirement.kind == "customer":
        app.append_context(customer=portal_sessions.authenticate(token))
        return
    session = sessions.authenticate(token)
    app.append_context(user_id=session.user_id)  # for the log of a refusal below
    caller = Caller(session=session)
    if requirement.kind == "member":
        account_id = str(app.context.get("_route_args", {}).get("account_id", ""))
        membership, account = _membership_and_account(account_id, session.user_id)
        if membership is None or account is None or membership.get("status") != "active":
            raise NotFound("No such account.")
        if requirement.right is not None:
            if not allows(membership, requirement.right):
                raise Forbidden(f"This needs the right '{requirement.right.value}'.")
            problem = unavailable(requirement.right, account)  # e.g. payouts after they were switched off
            if problem:
                raise Forbidden(problem)
        if (account.get("security") or {}).get("enforce_mfa") and not session.mfa:
            raise MfaRequired("This account requires two-factor authentication; log in again with your second factor.")
        caller = Caller(session=session, membership=membership, account=account)
    app.append_context(caller=caller)


def _membership_and_account(account_id: str, user_id: str) -> tuple[dict | None, dict | None]:
    if not account_id.startswith("acc_") or len(account_id) > 64:
        return None, None
    found = store.batch_get([keys.membership(account_id, user_id), keys.account(account_id)])
    return found[0], found[1]


def install(app: Any) -> None:
    """Run the access check before the resolver validates the request."""
    validation = app._request_validation_middleware  # Powertools builds it when validation is on

    def check_then_validate(app: Any, next_middleware: Callable[..., Any]) -> Any:
        try:
            _check(app)
        except PorticoError as refused:
            # A security event (who was refused what, and why), never the token itself.
            route = app.context.get("_route")
            logger.info(
                "access refused",
                extra={
                    "code": refused.code,
                    "status": refused.status,
                    "route": getattr(route, "path", None),
                    "user_id": app.context.get("user_id"),
                },
            )
            raise
        return validation(app, next_middleware)

    app._request_validation_middleware = check_then_validate


def portal_customer(app: Any) -> portal_sessions.PortalSession:
    found = app.context.get("customer")
    if found is None:  # a customer route always has one; reaching here is a wiring bug
        raise Unauthenticated()
    return found


def caller(app: Any) -> Caller:
    found = app.context.get("caller")
    if found is None:  # a user/member route always has one; reaching here is a wiring bug
        raise Unauthenticated()
    return found
