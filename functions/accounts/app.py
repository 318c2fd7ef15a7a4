"""Account routes: the account and its security settings."""

from __future__ import annotations

from portico import access, http
from portico.accounts import service
from portico.accounts.models import Account, SecuritySettings
from portico.rights import Right

app = http.resolver()


@app.get("/accounts/<account_id>")
@access.member()
def get_account(account_id: str) -> Account:
    return service.view(access.caller(app))


@app.get("/accounts/<account_id>/security")
@access.member(Right.USERS)
def get_security(account_id: str) -> SecuritySettings:
    return service.security(access.caller(app))


@app.put("/accounts/<account_id>/security")
@access.member(Right.USERS)
def put_security(account_id: str, body: SecuritySettings) -> SecuritySettings:
    return service.update_security(access.caller(app), body, ip=http.meta(app).ip)


lambda_handler = http.entry_point(app)
