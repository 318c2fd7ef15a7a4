"""The portal's configuration: the merchant's settings (``GET, PUT /accounts/{a}/portal``, right
``settings``) and what the portal shows of them to anyone (``GET /portal/{a}/config``).

The configuration is kept on the account (``portal``); ``PUT`` replaces it whole, omitted fields
taking their defaults, and is audit-logged with the old and new values. Turning the portal off ends
every portal session of the account at once, and its login and config routes answer 404, as for an
account that does not exist. Branding (the company's name, logo, address and email) comes from the
account settings, not from here.
"""

from __future__ import annotations

from portico import audit
from portico.accounts import repository as accounts
from portico.accounts.caller import Caller
from portico.accounts.records import Account
from portico.billing import repository as billing
from portico.billing.records import Plan
from portico.config import SUPPORTED_LANGUAGES
from portico.errors import NotFound, define
from portico.portal import sessions
from portico.portal.models import (
    PortalCompany,
    PortalFeatures,
    PortalSettings,
    PublicConfig,
    PublicReason,
)

Conflict = define("Conflict", 409, "conflict", "Conflict")
_ATTEMPTS = 5


def of(account: Account) -> PortalSettings:
    """The account's portal configuration (the defaults where it has none)."""
    return PortalSettings.model_validate(account.portal, strict=False) if account.portal else PortalSettings()


def get(caller: Caller) -> PortalSettings:
    return of(caller.account)


def put(caller: Caller, body: PortalSettings, *, ip: str) -> PortalSettings:
    for _ in range(_ATTEMPTS):
        before = accounts.get_account(caller.account_id, consistent=True)
        if before is None:
            raise NotFound("No such account.")
        old = of(before)
        if old == body:
            if not body.enabled:  # a retry after ending the sessions failed: end them now
                sessions.end_all(before.account_id)
            return body
        event = audit.Event(
            "portal.settings_changed",
            caller.actor,
            {"account_id": before.account_id},
            ip,
            {"before": old.model_dump(mode="json"), "after": body.model_dump(mode="json")},
        )
        records = audit.records(event, [before.account_id])
        change = accounts.update_account_op(before, {"portal": body.model_dump(mode="json")})
        if accounts.write([change, *records.ops]):
            if old.enabled and not body.enabled:
                sessions.end_all(before.account_id)
            return body
    raise Conflict("The portal settings were changed by someone else at the same time; try again.")


def enabled_account(account_id: str, account: Account | None = None) -> tuple[Account, PortalSettings]:
    """The account (read unless given) and its portal configuration, or ``404 not_found`` when
    either is missing or the portal is off (the same answer: a closed portal is no portal)."""
    if account is None:
        account = accounts.get_account(account_id) if 0 < len(account_id) <= 64 else None
    settings = of(account) if account is not None else None
    if account is None or settings is None or not settings.enabled:
        raise NotFound("No such portal.")
    return account, settings


def public(account_id: str) -> PublicConfig:
    account, settings = enabled_account(account_id)
    orderable = any(p.portal_orderable and p.state == "active" for p in billing.catalog_all(Plan, account_id))
    language = account.language if account.language in SUPPORTED_LANGUAGES else "en"
    return PublicConfig(
        account_id=account.account_id,
        company=PortalCompany(
            name=account.company.legal_name or account.name,
            logo_url=account.logo_url,
            address=account.company.address,
            email=account.company.email,
        ),
        accent_color=settings.accent_color,
        default_language=language,
        languages=list(SUPPORTED_LANGUAGES),
        features=PortalFeatures(
            pause=settings.allow_pause, cancel=settings.allow_cancel, payment_methods=True, order=orderable
        ),
        cancel_timing=settings.cancel_timing,
        cancellation_reasons=[
            PublicReason(id=r.id, label=r.labels.en if language == "en" else r.labels.de, labels=r.labels.model_dump())
            for r in settings.cancellation_reasons
        ],
        terms_url=account.terms_url,
    )
