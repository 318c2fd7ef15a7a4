"""Who is acting in an account: a merchant user's session, their membership and the account, as
the access check found them for a ``/accounts/{account_id}`` route."""

from __future__ import annotations

from dataclasses import dataclass

from portico import audit
from portico.accounts.records import Account, Membership
from portico.auth.sessions import Session


@dataclass(frozen=True)
class Caller:
    session: Session
    membership: Membership
    account: Account

    @property
    def account_id(self) -> str:
        return self.account.account_id

    @property
    def user_id(self) -> str:
        return self.session.user_id

    @property
    def actor(self) -> audit.Actor:
        return audit.Actor("user", self.session.user_id, self.session.email)
