"""Account routes: the account, its settings, security settings and portal configuration, and
going live."""

from __future__ import annotations

from portico import boot  # first: the collector off and boto3 in before the rest (see portico.boot)

# isort: split
from aws_lambda_powertools.event_handler import Response

from portico import access, http
from portico.accounts import service, settings
from portico.accounts.models import AccountSettings, AccountView, GoLive, SettingsPatch
from portico.accounts.rights import Right
from portico.billing import golive
from portico.portal import config as portal
from portico.portal.models import PortalSettings
from portico.security.settings import SecuritySettings

boot.ready("dynamodb")

app = http.resolver()


@app.get("/accounts/<account_id>")
@access.member()
def get_account(account_id: str) -> AccountView:
    """Show the account: name, mode (``test`` or ``live``) and its linked account."""
    return service.view(http.caller(app))


@app.get("/accounts/<account_id>/security")
@access.member(Right.USERS)
def get_security(account_id: str) -> SecuritySettings:
    """Show the account's security settings (2FA enforcement, password policy, session lifetimes)."""
    return service.security_settings(http.caller(app))


@app.put("/accounts/<account_id>/security")
@access.member(Right.USERS)
def put_security(account_id: str, body: SecuritySettings) -> SecuritySettings:
    """Replace the account's security settings.

    They apply to sessions opened after the change; the change is audit-logged.
    """
    return service.update_security(http.caller(app), body, ip=http.meta(app).ip)


@app.get("/accounts/<account_id>/settings")
@access.member(Right.SETTINGS)
def get_settings(account_id: str) -> AccountSettings:
    """Show the account's settings (name, language, currency, VAT, time zone, company details)."""
    return settings.settings(http.caller(app))


@app.patch("/accounts/<account_id>/settings")
@access.member(Right.SETTINGS)
def patch_settings(account_id: str, body: SettingsPatch) -> AccountSettings:
    """Change some of the account's settings; ``null`` clears an optional one.

    Errors:
        409 conflict: the settings were changed at the same time; try again.
    """
    return settings.update(http.caller(app), body, ip=http.meta(app).ip)


@app.get("/accounts/<account_id>/portal")
@access.member(Right.SETTINGS)
def get_portal(account_id: str) -> PortalSettings:
    """Show the customer portal's configuration."""
    return portal.get(http.caller(app))


@app.put("/accounts/<account_id>/portal")
@access.member(Right.SETTINGS)
def put_portal(account_id: str, body: PortalSettings) -> PortalSettings:
    """Replace the customer portal's configuration; omitted fields take their defaults.

    Turning the portal off ends every portal session of the account.

    Errors:
        409 conflict: the configuration was changed at the same time; try again.
    """
    return portal.put(http.caller(app), body, ip=http.meta(app).ip)


@app.post("/accounts/<account_id>/go-live")
@access.member(Right.USERS)
def go_live(account_id: str) -> Response[GoLive]:
    """Create the linked live account with copies of the catalog and the members.

    Resumable: after a 503, calling again finishes the same live account.

    Errors:
        409 already_live: the account is live, or already has its live account.
    """
    return http.created(golive.go_live(http.caller(app), ip=http.meta(app).ip))


lambda_handler = http.entry_point(app)
