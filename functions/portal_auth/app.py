"""Portal entry routes, open to anyone: the portal's public configuration, and logging in by an
emailed one-time code or by the merchant's one-time link."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from portico import access, http
from portico.portal import config, login
from portico.portal.models import CodeLogin, CodeRequest, CodeSent, LinkLogin, PortalLogin, PublicConfig

app = http.resolver()


@app.get("/portal/<account_id>/config")
@access.public
def get_config(account_id: str) -> PublicConfig:
    return config.public(account_id)


@app.post("/portal/<account_id>/login")
@access.public
def request_code(account_id: str, body: CodeRequest) -> Response[CodeSent]:
    return http.created(login.request_code(account_id, body), status=202)


@app.post("/portal/<account_id>/login/verify")
@access.public
def verify_code(account_id: str, body: CodeLogin) -> PortalLogin:
    return login.verify(account_id, body, ip=http.meta(app).ip)


@app.post("/portal/<account_id>/login/link")
@access.public
def exchange_link(account_id: str, body: LinkLogin) -> PortalLogin:
    return login.exchange_link(account_id, body)


lambda_handler = http.entry_point(app)
