"""Account routes: the account, its settings, security settings and portal configuration, and
going live."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from portico import access, http
from portico.accounts import service, settings
from portico.accounts.models import AccountSettings, AccountView, GoLive, SettingsPatch
from portico.accounts.rights import Right
from portico.billing import golive
from portico.portal import config as portal
from portico.portal.models import PortalSettings
from portico.security.settings import SecuritySettings

app = http.resolver()


@app.get("/accounts/<account_id>")
@access.member()
def get_account(account_id: str) -> AccountView:
    return service.view(http.caller(app))


@app.get("/accounts/<account_id>/security")
@access.member(Right.USERS)
def get_security(account_id: str) -> SecuritySettings:
    return service.security_settings(http.caller(app))


@app.put("/accounts/<account_id>/security")
@access.member(Right.USERS)
def put_security(account_id: str, body: SecuritySettings) -> SecuritySettings:
    return service.update_security(http.caller(app), body, ip=http.meta(app).ip)


@app.get("/accounts/<account_id>/settings")
@access.member(Right.SETTINGS)
def get_settings(account_id: str) -> AccountSettings:
    return settings.settings(http.caller(app))


@app.patch("/accounts/<account_id>/settings")
@access.member(Right.SETTINGS)
def patch_settings(account_id: str, body: SettingsPatch) -> AccountSettings:
    return settings.update(http.caller(app), body, ip=http.meta(app).ip)


@app.get("/accounts/<account_id>/portal")
@access.member(Right.SETTINGS)
def get_portal(account_id: str) -> PortalSettings:
    return portal.get(http.caller(app))


@app.put("/accounts/<account_id>/portal")
@access.member(Right.SETTINGS)
def put_portal(account_id: str, body: PortalSettings) -> PortalSettings:
    return portal.put(http.caller(app), body, ip=http.meta(app).ip)


@app.post("/accounts/<account_id>/go-live")
@access.member(Right.USERS)
def go_live(account_id: str) -> Response[GoLive]:
    return http.created(golive.go_live(http.caller(app), ip=http.meta(app).ip))


lambda_handler = http.entry_point(app)
