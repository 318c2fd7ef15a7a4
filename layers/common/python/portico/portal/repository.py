"""Storage of the portal's one-time codes: the only module of :mod:`portico.portal` that talks to
the table (portal sessions are on the token-session core, the configuration on the account).

A code item holds the hash of the current code, when it was sent and expires, and how many
comparisons it has had (``attempts``). Login codes live under the address (one per address and
account, also for an address no customer has), phone codes under the customer. Every step is one
conditional write (:mod:`portico.tokens.repository` stores one-time codes of every kind): sending
is refused within the cooldown of the previous code, each comparison first takes one of the
attempts (so parallel guesses share them), and a code is used by deleting it on the condition that
it is still the one compared.
"""

from __future__ import annotations

from portico import keys, store
from portico.accounts.records import Account
from portico.billing.records import Customer
from portico.keys import Write
from portico.tokens.repository import OneTimeCode


def customers_and_code(account_id: str, email: str) -> tuple[list[Customer], OneTimeCode | None]:
    """The account's customers with this address (oldest first) and the address's current login
    code, in one query of the address's index (eventually consistent: the code only tells whether
    the previous one is still valid; the write that replaces it checks the cooldown itself)."""
    found = store.query_all(keys.customers_by_email(account_id, email))
    customers = [Customer.from_item(store.plain(i)) for i in found if keys.is_customer(i)]
    code = next((OneTimeCode.from_item(store.plain(i)) for i in found if keys.is_portal_code(i)), None)
    return customers, code


def account_and_customer(account_id: str, customer_id: str) -> tuple[Account | None, Customer | None]:
    """An account and one of its customers, in one batch read (a link login needs both)."""
    account, customer = store.batch_get([keys.account(account_id), keys.customer(account_id, customer_id)])
    return (
        Account.from_item(store.plain(account)) if account else None,
        Customer.from_item(store.plain(customer)) if customer else None,
    )


def portal_open_check(account_id: str) -> Write:
    """A condition for a login's transaction: the account's portal is not turned off."""
    return store.condition_op(
        keys.account(account_id),
        "attribute_exists(pk) AND (attribute_not_exists(#p.#e) OR #p.#e = :on)",
        values={":on": True},
        names={"#p": "portal", "#e": "enabled"},
    )


def write(ops: list[Write]) -> bool:
    """One transaction; False when a condition failed."""
    return store.try_transact(ops)
