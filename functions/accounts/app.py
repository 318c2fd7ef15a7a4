"""Account routes: the account and its security settings."""

from __future__ import annotations

from portico import access, http
from portico.accounts import service
from portico.accounts.models import AccountView
from portico.accounts.rights import Right
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


lambda_handler = http.entry_point(app)
