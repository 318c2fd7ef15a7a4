"""Portal entry routes, open to anyone: the portal's public configuration, and logging in by an
emailed one-time code or by the merchant's one-time link."""

from __future__ import annotations

from portico import boot  # first: the collector off and boto3 in before the rest (see portico.boot)

# isort: split
from aws_lambda_powertools.event_handler import Response

from portico import access, http
from portico.portal import config, login
from portico.portal.models import CodeLogin, CodeRequest, CodeSent, LinkLogin, PortalLogin, PublicConfig

boot.ready("dynamodb")

app = http.resolver()


@app.get("/portal/<account_id>/config")
@access.public
def get_config(account_id: str) -> PublicConfig:
    """Show what a portal page needs: the company's name and logo, colour, languages and features.

    Errors:
        404 not_found: no such account, or its portal is disabled.
    """
    return config.public(account_id)


@app.post("/portal/<account_id>/login")
@access.public
def request_code(account_id: str, body: CodeRequest) -> Response[CodeSent]:
    """Email a customer a 6-digit login code for the portal (10 minutes).

    Errors:
        404 not_found: no such account, or its portal is disabled.
        404 unknown_email: no customer has that address (unless the portal hides unknown addresses).
        429 resend_too_soon: a code was sent less than a minute ago; see ``Retry-After``.
    """
    return http.created(login.request_code(account_id, body), status=202)


@app.post("/portal/<account_id>/login/verify")
@access.public
def verify_code(account_id: str, body: CodeLogin) -> PortalLogin:
    """Log in to the portal with the emailed code; answers a portal token.

    Errors:
        404 not_found: no such account, or its portal is disabled.
        401 invalid_code: the code is not right (each try takes one of 5 attempts).
        401 code_expired: the code is older than 10 minutes.
        401 code_exhausted: the code's 5 attempts are used up; ask for a new one.
        429 too_many_requests: too many comparisons from this address (30 per 10 minutes).
    """
    return login.verify(account_id, body, ip=http.meta(app).ip)


@app.post("/portal/<account_id>/login/link")
@access.public
def exchange_link(account_id: str, body: LinkLogin) -> PortalLogin:
    """Log in to the portal with a merchant's one-time link token; answers a portal token.

    Errors:
        404 not_found: no such account, or its portal is disabled.
        401 invalid_token: the link is unknown, used or expired.
    """
    return login.exchange_link(account_id, body)


lambda_handler = http.entry_point(app)
