"""AWS calls per request on the main flows (counted, never timed).

:data:`BUDGETS` is the one table: for each route and flow, the calls one request makes now, per
service, and the ceiling for DynamoDB calls where the project sets one: an authenticated read
(``READ``) at most 2, a login step (``LOGIN``) at most 3, a portal OTP request (``PORTAL``) at most
3 plus one SES call. Each row is asserted exactly, so a regression fails and so does an
improvement (write the new number down). A row above its ceiling names its gap in :data:`GAPS`;
the ceilings themselves are never raised here.

Every request runs for a fresh user (:mod:`tests.integration.flows`) right after the steps that
lead to it, so the session's last-seen time is fresh unless the flow says otherwise. The fault
sweep (``test_faults.py``) fails each of these calls in turn.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.integration.flows import FLOWS, Subject, World, fresh_table, template_env, world  # noqa: F401  (the shared-stack fixtures)

READ, LOGIN, PORTAL = 2, 3, 3
# Billing ceilings, on top of the access check's two reads: a subscription action reads the
# subscription once and writes one transaction; reading a subscription (which carries its plan) or
# an invoice is one read.
ACTION, ONE_READ = READ + 2, READ + 1
SERVICES = ("dynamodb", "ses", "sns", "kms")


@dataclass(frozen=True)
class Budget:
    route: str
    flow: str  # a flow of tests/integration/flows.py
    dynamodb: int
    ses: int
    sns: int
    kms: int
    guide: int | None  # the ceiling for DynamoDB calls (READ, LOGIN, PORTAL), where one is set

    @property
    def calls(self) -> dict[str, int]:
        return {service: getattr(self, service) for service in SERVICES if getattr(self, service)}


# fmt: off
BUDGETS = [Budget(*row) for row in [
    # route                                                  flow                        DynamoDB SES SNS KMS guide
    ("POST /signup",                                         "signup",                          2, 1, 0, 0, None),
    ("POST /auth/verify-email",                              "verify email",                    2, 0, 0, 0, None),
    ("POST /auth/verify-email/resend",                       "resend verification",             4, 1, 0, 0, None),
    ("POST /auth/login",                                     "login",                           3, 0, 0, 0, LOGIN),
    ("POST /auth/login",                                     "login, wrong password",           3, 0, 0, 0, LOGIN),
    ("POST /auth/login",                                     "login, unknown email",            3, 0, 0, 0, LOGIN),
    ("POST /auth/login",                                     "login to second factor",          3, 0, 0, 0, LOGIN),
    ("POST /auth/login/mfa",                                 "login TOTP code",                 4, 0, 0, 1, LOGIN),
    ("POST /auth/login/mfa",                                 "login recovery code",             4, 0, 0, 1, LOGIN),
    ("POST /auth/login/password",                            "expired password at login",       5, 0, 0, 0, LOGIN),
    ("POST /auth/login/mfa-enrollment",                      "login enrollment",                3, 0, 0, 1, LOGIN),
    ("POST /auth/login/mfa-enrollment/confirm",              "login enrollment confirm",        4, 1, 0, 1, LOGIN),
    ("POST /auth/reauthenticate",                            "reauthenticate",                  4, 0, 0, 0, None),
    ("POST /auth/password/forgot",                           "forgot by email",                 4, 1, 0, 0, None),
    ("POST /auth/password/forgot",                           "forgot by SMS",                   4, 0, 1, 0, None),
    ("POST /auth/password/reset",                            "reset by link",                   6, 1, 0, 0, None),
    ("POST /me/email",                                       "email change",                    6, 2, 0, 0, None),
    ("POST /me/email/confirm",                               "email change confirm",            7, 0, 0, 0, None),
    ("POST /auth/password/reset",                            "reset by SMS code",               6, 1, 0, 0, None),
    ("POST /me/password",                                    "password change",                 7, 1, 0, 0, None),
    ("POST /me/mfa/totp",                                    "TOTP enrollment",                 3, 0, 0, 1, None),
    ("POST /me/mfa/totp/confirm",                            "TOTP confirm",                    4, 1, 0, 1, None),
    ("DELETE /me/mfa/totp",                                  "TOTP removal",                    4, 1, 0, 1, None),
    ("POST /me/mfa/recovery-codes",                          "recovery codes",                  4, 0, 0, 1, None),
    ("DELETE /me/sessions/{session_id}",                     "revoke a session",                3, 0, 0, 0, None),
    ("DELETE /me/sessions",                                  "revoke other sessions",           3, 0, 0, 0, None),
    ("POST /auth/logout",                                    "logout",                          2, 0, 0, 0, None),
    ("GET /me",                                              "me",                              3, 0, 0, 0, READ),
    ("PATCH /me",                                            "profile change",                  4, 0, 0, 0, None),
    ("PUT /me/phone",                                        "phone",                           5, 0, 1, 0, None),
    ("POST /me/phone/verify",                                "phone verify",                    4, 0, 0, 0, None),
    ("POST /me/phone/release",                               "phone release",                   4, 0, 1, 0, None),
    ("POST /me/phone/release/confirm",                       "phone release confirm",           4, 0, 0, 0, None),
    ("POST /me/password/compromised",                        "password compromised",            9, 1, 0, 0, None),
    ("GET /me/sessions",                                     "my sessions",                     2, 0, 0, 0, READ),
    ("GET /me/privacy",                                      "privacy",                         4, 0, 0, 0, READ),
    ("POST /me/privacy/consent",                             "consent",                         6, 0, 0, 0, None),
    ("POST /me/privacy/export",                              "export",                          5, 0, 0, 0, None),
    ("POST /me/privacy/deletion-request",                    "deletion request",                4, 0, 0, 0, None),
    ("POST /me/privacy/restriction-request",                 "restriction request",             4, 0, 0, 0, None),
    ("GET /accounts/{account_id}/privacy-requests",          "privacy requests",                4, 0, 0, 0, READ),
    ("POST /accounts/{account_id}/privacy-requests/{request_id}", "deletion completed",         15, 1, 0, 0, None),
    ("POST /accounts/{account_id}/privacy-requests/{request_id}", "restriction completed",      8, 1, 0, 0, None),
    ("POST /accounts/{account_id}/privacy-requests/{request_id}", "request rejected",           8, 1, 0, 0, None),
    ("GET /accounts/{account_id}",                           "account",                         2, 0, 0, 0, READ),
    ("GET /accounts/{account_id}",                           "account after a minute",          3, 0, 0, 0, READ),
    ("GET /accounts/{account_id}/security",                  "security settings",               2, 0, 0, 0, READ),
    ("GET /accounts/{account_id}/users",                     "members",                         4, 0, 0, 0, READ),
    ("GET /rights",                                          "rights",                          1, 0, 0, 0, READ),
    ("PUT /accounts/{account_id}/security",                  "security change",                 7, 0, 0, 0, None),
    ("POST /accounts/{account_id}/users/{user_id}/mfa-reset", "admin MFA reset",                7, 1, 0, 0, None),
    ("POST /accounts/{account_id}/users/{user_id}/password-reset", "admin password reset",      7, 1, 0, 0, None),
    ("POST /accounts/{account_id}/users",                    "invitation",                      7, 1, 0, 0, None),
    ("POST /portal/{account_id}/login",                      "portal login code",               3, 1, 0, 0, PORTAL),
    ("PATCH /accounts/{account_id}/settings",                "settings change",                 4, 0, 0, 0, None),
    ("POST /accounts/{account_id}/plans",                    "plan",                            3, 0, 0, 0, None),
    ("POST /accounts/{account_id}/customers",                "customer",                        3, 0, 0, 0, None),
    ("GET /accounts/{account_id}/customers",                 "customers by email",              3, 0, 0, 0, None),
    ("POST /accounts/{account_id}/customers/{customer_id}/payment-methods", "payment method",   4, 0, 0, 0, None),
    ("POST /accounts/{account_id}/subscriptions",            "subscription",                   10, 0, 0, 0, None),
    ("POST /accounts/{account_id}/subscriptions/{subscription_id}/pause", "subscription pause", 4, 0, 0, 0, ACTION),
    ("GET /accounts/{account_id}/subscriptions/{subscription_id}", "subscription read",         3, 0, 0, 0, ONE_READ),
    ("GET /accounts/{account_id}/invoices/{invoice_id}",     "invoice read",                    3, 0, 0, 0, ONE_READ),
    ("POST /accounts/{account_id}/customers/{customer_id}/portal-session", "portal link",       4, 0, 0, 0, None),
    ("POST /accounts/{account_id}/go-live",                  "go-live",                        17, 0, 0, 0, None),
    ("POST /portal/{account_id}/login",                      "portal login code, hidden",       3, 1, 0, 0, PORTAL),
    ("POST /portal/{account_id}/login/verify",               "portal login verify",             3, 0, 0, 0, LOGIN),
    ("POST /portal/{account_id}/login/link",                 "portal login link",               3, 0, 0, 0, LOGIN),
    ("GET /portal/me",                                       "portal me",                       2, 0, 0, 0, READ),
    ("PATCH /portal/me",                                     "portal profile change",           3, 0, 0, 0, None),
    ("PUT /portal/me/phone",                                 "portal phone",                    5, 0, 1, 0, None),
    ("GET /portal/subscriptions",                            "portal subscriptions",            2, 0, 0, 0, READ),
    ("GET /portal/subscriptions/{subscription_id}",          "portal subscription",             2, 0, 0, 0, READ),
    ("POST /portal/subscriptions/{subscription_id}/pause",   "portal pause",                    4, 0, 0, 0, ACTION),
    ("GET /portal/invoices",                                 "portal invoices",                 2, 0, 0, 0, READ),
    ("GET /portal/invoices/{invoice_id}",                    "portal invoice",                  2, 0, 0, 0, READ),
]]
# fmt: on

ATTEMPT_FIRST = (
    "the attempt is recorded in the lockout before the code is checked, so parallel guesses never exceed "
    "the limit: one write on top of reading the challenge and the credential and writing the outcome"
)
GAPS = {  # rows above their ceiling, and why
    "login TOTP code": ATTEMPT_FIRST,
    "login recovery code": ATTEMPT_FIRST,
    "login enrollment confirm": ATTEMPT_FIRST,
    "expired password at login": "the new password ends every session first: a query and a delete before the write",
    "me": "after the session, the credential and the user's memberships (a query)",
    "account after a minute": "a session idle for a minute gets its last-seen time written (at most once a minute)",
    "members": "after the access check, a query of the memberships and a batch read of the members' logins",
    "privacy": "after the session, the credential (the restriction flag), the newest consent and the requests",
    "privacy requests": "after the access check, the account's listing (a query) and a batch read of the requests",
}
# Routes being built: the ceiling stands in for the measurement until the route lands.
NOT_MEASURED: set[str] = set()


@pytest.mark.parametrize("budget", [pytest.param(b, id=FLOWS[b.flow].slug, marks=FLOWS[b.flow].mark) for b in BUDGETS])
def test_route_costs_what_the_table_says(world, aws_calls, budget):
    flow = FLOWS[budget.flow]
    call = flow.prepare(world, Subject())
    with aws_calls(SERVICES) as counted:
        answer = call.send(world.api)
    assert answer.status == flow.status, answer.body
    costs = {service: counted.count(service) for service in SERVICES if counted.count(service)}
    if budget.flow in NOT_MEASURED:
        over = {service: n for service, n in costs.items() if n > budget.calls.get(service, 0)}
        assert not over, f"{budget.route} ({budget.flow}) costs {costs}, over {budget.calls}"
    else:
        assert costs == budget.calls, (
            f"{budget.route} ({budget.flow}) now costs {costs}, the table says {budget.calls}: "
            "a regression, or an improvement to write down"
        )


def test_the_table_keeps_the_guides_ceilings():
    assert len({b.flow for b in BUDGETS}) == len(BUDGETS), "one row per flow"
    for budget in BUDGETS:
        assert FLOWS[budget.flow].route == budget.route, budget
        over = budget.guide is not None and budget.dynamodb > budget.guide
        assert over == (budget.flow in GAPS), f"{budget.flow}: a gap is named exactly when over its ceiling"
    portal = next(b for b in BUDGETS if b.flow == "portal login code")
    assert (portal.dynamodb, portal.ses) == (PORTAL, 1)  # the ceiling: "at most 3 plus one SES call"
