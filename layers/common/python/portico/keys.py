"""Key builders for the single table, and the access patterns they serve: the only module that
knows a key prefix.

Every item has ``pk`` and ``sk``; some carry ``gsi1pk``/``gsi1sk`` for the one secondary index.
``ttl`` (epoch seconds) only cleans up: code always checks expiry itself. Queries are built here
too (:class:`Query`), so a ``begins_with`` pattern is spelled once, next to the key it reads.

=====================================  ====================================================
pattern                                key
=====================================  ====================================================
user profile by id                     pk=USER#<user_id>          sk=PROFILE
login credential by email (unique)     pk=EMAIL#<email folded>    sk=CREDENTIAL
passwords expiring on a day            gsi1pk=PWEXP#<yyyy-mm-dd>  gsi1sk=<user_id>
account by id                          pk=ACCOUNT#<account_id>    sk=ACCOUNT
membership of a user in an account     pk=ACCOUNT#<account_id>    sk=MEMBER#<user_id>
members of an account                  pk=ACCOUNT#<account_id>    sk begins_with MEMBER#
member by email, unique per account    pk=ACCOUNT#<account_id>    sk=MEMBER_EMAIL#<email folded>
accounts of a user                     gsi1pk=USER#<user_id>      gsi1sk begins_with MEMBER#
one-time link by its hash              pk=TOKEN#<sha256>          sk=TOKEN
login challenge by its hash            pk=CHALLENGE#<sha256>      sk=CHALLENGE
session by its token's hash            pk=SESSION#<sha256>        sk=SESSION
portal session by its token's hash     pk=PORTAL_SESSION#<sha256> sk=SESSION
sessions of a user                     gsi1pk=USER#<user_id>      gsi1sk begins_with SESSION#
portal sessions of an account          gsi1pk=PORTAL_SESSIONS#<account_id> gsi1sk=<customer_id>#<session_id>
audit records of an account, by time   pk=AUDIT#<account_id>      sk=<iso time>#<event id>
audit record still to fan out          pk=AUDIT_FANOUT#<event id> sk=AUDIT_FANOUT
audit records still to fan out        gsi1pk=AUDIT_FANOUT        gsi1sk=<iso time>#<event id>
rate-limit counter                     pk=RATE#<scope>#<subject>  sk=<window>
catalog item (plan, add-on, ...)       pk=ACCOUNT#<account_id>    sk=PLAN#<id> (ADDON#, DISCOUNT#, COUPON#)
catalog items of a kind                pk=ACCOUNT#<account_id>    sk begins_with PLAN# (...)
handle, unique per account and kind    pk=ACCOUNT#<account_id>    sk=HANDLE#<kind>#<handle>
coupon code, unique case-insensitively pk=ACCOUNT#<account_id>    sk=COUPON_CODE#<code folded>
customer                               pk=ACCOUNT#<account_id>    sk=CUSTOMER#<customer_id>
customers of an account, oldest first  pk=ACCOUNT#<account_id>    sk begins_with CUSTOMER#
customers by email, newest last        gsi1pk=CUSTOMER_EMAIL#<account_id>#<email folded>
payment method of a customer           pk=ACCOUNT#<account_id>    sk=PM#<customer_id>#<pm_id>
subscription / invoice                 pk=ACCOUNT#<account_id>    sk=SUB#<id> / INV#<id>
a customer's subscriptions / invoices  gsi2pk=CUSTOMER#<customer_id> gsi2sk begins_with SUB# / INV#
timeline of a customer, by time        pk=ACCOUNT#<account_id>    sk=EVENT#<customer_id>#<event id>
billing work due in an hour            gsi1pk=DUE#<yyyy-mm-ddThh> gsi1sk=<due time>#<id>
invoice number counter                 pk=ACCOUNT#<account_id>    sk=COUNTER#invoice
gateway record (test gateway)          pk=GATEWAY#<idempotency key> sk=CHARGE
portal login code of an email          pk=ACCOUNT#<account_id>    sk=PORTAL_CODE#<email folded>
portal phone verification of customer  pk=ACCOUNT#<account_id>    sk=PHONE_CODE#<customer_id>
a user's phone code (verify, release)  pk=USER#<user_id>          sk=PHONE_CODE#<purpose>
scheduled job's mark                   pk=JOB#<job>               sk=MARK
consents of a user, newest last        pk=USER#<user_id>          sk begins_with CONSENT#<iso time>
privacy request of a user              pk=USER#<user_id>          sk=PRIVACY#<request_id>
privacy requests of a user, by time    pk=USER#<user_id>          sk begins_with PRIVACY#
a user's pending request of a type     pk=USER#<user_id>          sk=PRIVACY_PENDING#<type>
privacy requests an account handles    pk=ACCOUNT#<account_id>    sk begins_with PRIVACY#
audit records done by a user           gsi1pk=AUDIT_USER#<user_id> gsi1sk=<iso time>#<event id>
audit records about a user             gsi2pk=AUDIT_USER#<user_id> gsi2sk=<iso time>#<event id>
=====================================  ====================================================

Ids of customers, subscriptions, invoices, payment methods and events sort by creation time
(:func:`portico.ids.new_sortable_id`), so a list read in key order is in creation order.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Key = dict[str, str]
Write = dict[str, Any]  # one write of a transaction, as portico.store builds it

INDEX = "gsi1"
INDEX2 = "gsi2"


@dataclass(frozen=True)
class Query:
    """A key condition on the table or its index, ready for :func:`portico.store.query`."""

    condition: str
    values: dict[str, Any]
    index: str | None = None
    partition: str = ""  # the partition it reads: a cursor may only continue this one
    prefix: str = ""  # the sort-key prefix it reads
    names: dict[str, str] = field(default_factory=dict)


def _starting(partition_attr: str, sort_attr: str, partition: str, prefix: str, index: str | None) -> Query:
    return Query(
        f"{partition_attr} = :p AND begins_with({sort_attr}, :s)",
        {":p": partition, ":s": prefix},
        index=index,
        partition=partition,
        prefix=prefix,
    )


# ----------------------------------------------------------------- logins and users


def user(user_id: str) -> Key:
    return {"pk": f"USER#{user_id}", "sk": "PROFILE"}


def credential(email: str) -> Key:
    """The login credential, keyed by the login name so a login step reads one item; its
    conditional creation is also what keeps emails unique."""
    return {"pk": f"EMAIL#{normalise_email(email)}", "sk": "CREDENTIAL"}


def expiry_index(day: str, user_id: str) -> Key:
    return {"gsi1pk": f"PWEXP#{day}", "gsi1sk": user_id}


def expiring_on(day: str) -> Query:
    """Credentials whose password expires on ``day`` (``yyyy-mm-dd``)."""
    partition = f"PWEXP#{day}"
    return Query("gsi1pk = :p", {":p": partition}, index=INDEX, partition=partition)


# ----------------------------------------------------------------- accounts and memberships


def account(account_id: str) -> Key:
    return {"pk": f"ACCOUNT#{account_id}", "sk": "ACCOUNT"}


def membership(account_id: str, user_id: str) -> Key:
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"MEMBER#{user_id}"}


def members_of(account_id: str) -> Query:
    """The memberships of an account, by user id."""
    return _starting("pk", "sk", f"ACCOUNT#{account_id}", "MEMBER#", None)


def member_email(account_id: str, email: str) -> Key:
    """The guard that makes an email a member of an account at most once (invitations race)."""
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"MEMBER_EMAIL#{normalise_email(email)}"}


def membership_index(account_id: str, user_id: str) -> Key:
    """The GSI attributes that list a user's memberships."""
    return {"gsi1pk": f"USER#{user_id}", "gsi1sk": f"MEMBER#{account_id}"}


def memberships_of(user_id: str) -> Query:
    """The memberships of a login, by account id."""
    return _starting("gsi1pk", "gsi1sk", f"USER#{user_id}", "MEMBER#", INDEX)


# ----------------------------------------------------------------- tokens


def token(token_hash: str) -> Key:
    return {"pk": f"TOKEN#{token_hash}", "sk": "TOKEN"}


def challenge(challenge_hash: str) -> Key:
    return {"pk": f"CHALLENGE#{challenge_hash}", "sk": "CHALLENGE"}


def session(token_hash: str) -> Key:
    return {"pk": f"SESSION#{token_hash}", "sk": "SESSION"}


def portal_session(token_hash: str) -> Key:
    return {"pk": f"PORTAL_SESSION#{token_hash}", "sk": "SESSION"}


def session_index(user_id: str, session_id: str) -> Key:
    return {"gsi1pk": f"USER#{user_id}", "gsi1sk": f"SESSION#{session_id}"}


def sessions_of(user_id: str) -> Query:
    """The merchant sessions of a login (eventually consistent: the index)."""
    return _starting("gsi1pk", "gsi1sk", f"USER#{user_id}", "SESSION#", INDEX)


def portal_session_index(account_id: str, customer_id: str, session_id: str) -> Key:
    return {"gsi1pk": f"PORTAL_SESSIONS#{account_id}", "gsi1sk": f"{customer_id}#{session_id}"}


def portal_sessions_of(account_id: str, customer_id: str | None = None) -> Query:
    """The portal sessions of an account, or of one of its customers (the index)."""
    partition = f"PORTAL_SESSIONS#{account_id}"
    if customer_id:
        return _starting("gsi1pk", "gsi1sk", partition, f"{customer_id}#", INDEX)
    return Query("gsi1pk = :p", {":p": partition}, index=INDEX, partition=partition)


def token_hash_of(key: Key) -> str:
    """The token hash a session or challenge key was built from."""
    return key["pk"].split("#", 1)[1]


# ----------------------------------------------------------------- audit


def audit(account_id: str, at: str, event_id: str) -> Key:
    return {"pk": f"AUDIT#{account_id}", "sk": f"{at}#{event_id}"}


def audit_of(account_id: str) -> Query:
    """An account's audit records, by time."""
    partition = f"AUDIT#{account_id}"
    return Query("pk = :p", {":p": partition}, partition=partition)


def audit_user_index(actor_id: str | None, target_id: str | None, ordered: str, event_id: str) -> Key:
    """Index attributes of an audit record: by the user who acted (gsi1) and the user it is about
    (gsi2), so that one person's records are found without reading whole logs (the data export)."""
    index: Key = {}
    if actor_id:
        index |= {"gsi1pk": f"AUDIT_USER#{actor_id}", "gsi1sk": f"{ordered}#{event_id}"}
    if target_id:
        index |= {"gsi2pk": f"AUDIT_USER#{target_id}", "gsi2sk": f"{ordered}#{event_id}"}
    return index


def audit_by_user(user_id: str) -> Query:
    """Records done by ``user_id`` (one per account the record is in)."""
    partition = f"AUDIT_USER#{user_id}"
    return Query("gsi1pk = :p", {":p": partition}, index=INDEX, partition=partition)


def audit_about_user(user_id: str) -> Query:
    """Records about ``user_id`` (one per account the record is in)."""
    partition = f"AUDIT_USER#{user_id}"
    return Query("gsi2pk = :p", {":p": partition}, index=INDEX2, partition=partition)


def audit_fanout(event_id: str) -> Key:
    """A record to copy into more accounts than one transaction holds (see :mod:`portico.audit`)."""
    return {"pk": f"AUDIT_FANOUT#{event_id}", "sk": "AUDIT_FANOUT"}


def audit_fanout_index(ordered: str, event_id: str) -> Key:
    return {"gsi1pk": "AUDIT_FANOUT", "gsi1sk": f"{ordered}#{event_id}"}


def audit_fanouts_before(ordered: str) -> Query:
    """Fan-out markers written before ``ordered`` (an ISO time without its ``Z``)."""
    return Query(
        "gsi1pk = :p AND gsi1sk < :before",
        {":p": "AUDIT_FANOUT", ":before": ordered},
        index=INDEX,
        partition="AUDIT_FANOUT",
    )


# ----------------------------------------------------------------- billing

CatalogKind = str  # "PLAN", "ADDON", "DISCOUNT", "COUPON"


def catalog_item(account_id: str, kind: CatalogKind, item_id: str) -> Key:
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"{kind}#{item_id}"}


def catalog_of(account_id: str, kind: CatalogKind) -> Query:
    return _starting("pk", "sk", f"ACCOUNT#{account_id}", f"{kind}#", None)


def handle(account_id: str, kind: str, handle_value: str) -> Key:
    """The guard that makes a handle unique per account and kind (plans, add-ons, ...)."""
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"HANDLE#{kind}#{handle_value}"}


def coupon_code(account_id: str, code: str) -> Key:
    """The guard (and lookup) of a coupon code, unique per account case-insensitively."""
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"COUPON_CODE#{code.strip().casefold()}"}


def customer(account_id: str, customer_id: str) -> Key:
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"CUSTOMER#{customer_id}"}


def customers_of(account_id: str) -> Query:
    return _starting("pk", "sk", f"ACCOUNT#{account_id}", "CUSTOMER#", None)


def customer_email_index(account_id: str, email: str, customer_id: str) -> Key:
    return {"gsi1pk": f"CUSTOMER_EMAIL#{account_id}#{normalise_email(email)}", "gsi1sk": customer_id}


def is_customer(item: Mapping[str, Any]) -> bool:
    """Whether a stored item is a customer (their email index also holds the address's portal code)."""
    return str(item.get("sk", "")).startswith("CUSTOMER#")


def is_portal_code(item: Mapping[str, Any]) -> bool:
    return str(item.get("sk", "")).startswith("PORTAL_CODE#")


def customers_by_email(account_id: str, email: str) -> Query:
    """The customers of an account with an address (duplicates allowed), oldest first."""
    partition = f"CUSTOMER_EMAIL#{account_id}#{normalise_email(email)}"
    return Query("gsi1pk = :p", {":p": partition}, index=INDEX, partition=partition)


def payment_method(account_id: str, customer_id: str, payment_method_id: str) -> Key:
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"PM#{customer_id}#{payment_method_id}"}


def payment_methods_of(account_id: str, customer_id: str) -> Query:
    return _starting("pk", "sk", f"ACCOUNT#{account_id}", f"PM#{customer_id}#", None)


def subscription(account_id: str, subscription_id: str) -> Key:
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"SUB#{subscription_id}"}


def is_subscription(item: Mapping[str, Any]) -> bool:
    """Whether a stored item is a subscription (the due index holds subscriptions and invoices)."""
    return str(item.get("sk", "")).startswith("SUB#")


def subscriptions_of(account_id: str) -> Query:
    return _starting("pk", "sk", f"ACCOUNT#{account_id}", "SUB#", None)


def invoice(account_id: str, invoice_id: str) -> Key:
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"INV#{invoice_id}"}


def invoices_of(account_id: str) -> Query:
    return _starting("pk", "sk", f"ACCOUNT#{account_id}", "INV#", None)


def customer_index(customer_id: str, kind: str, item_id: str) -> Key:
    """The attributes that list a subscription (``SUB``) or invoice (``INV``) under its customer."""
    return {"gsi2pk": f"CUSTOMER#{customer_id}", "gsi2sk": f"{kind}#{item_id}"}


def of_customer(customer_id: str, kind: str) -> Query:
    return _starting("gsi2pk", "gsi2sk", f"CUSTOMER#{customer_id}", f"{kind}#", INDEX2)


def all_of_customer(customer_id: str) -> Query:
    """A customer's subscriptions and invoices together (one query for a subscription with its invoices)."""
    partition = f"CUSTOMER#{customer_id}"
    return Query("gsi2pk = :p", {":p": partition}, index=INDEX2, partition=partition)


def timeline_event(account_id: str, customer_id: str, event_id: str) -> Key:
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"EVENT#{customer_id}#{event_id}"}


def timeline_of(account_id: str, customer_id: str) -> Query:
    return _starting("pk", "sk", f"ACCOUNT#{account_id}", f"EVENT#{customer_id}#", None)


def due_index(due_at: str, item_id: str) -> Key:
    """Index attributes that put billing work (a renewal, a trial's end, a retry, a charge to
    recover) under the hour it is due: ``due_at`` is ISO 8601 UTC."""
    return {"gsi1pk": f"DUE#{due_at[:13]}", "gsi1sk": f"{due_at}#{item_id}"}


def due_in_hour(hour: str, until: str) -> Query:
    """Work due in the hour ``hour`` (``yyyy-mm-ddThh``) up to ``until`` (an ISO time)."""
    partition = f"DUE#{hour}"
    return Query(
        "gsi1pk = :p AND gsi1sk <= :until", {":p": partition, ":until": until + "~"}, index=INDEX, partition=partition
    )


def charge_request(account_id: str, request_hash: str) -> Key:
    """Which first invoice a request with an ``Idempotency-Key`` made (the key's SHA-256), so that
    the request sent again finds its charge instead of making another."""
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"CHARGE_REQUEST#{request_hash}"}


def invoice_counter(account_id: str) -> Key:
    return {"pk": f"ACCOUNT#{account_id}", "sk": "COUNTER#invoice"}


def portal_code(account_id: str, email: str) -> Key:
    """The current portal login code for an address (one per address and account, whether or
    not a customer has it: an unknown address gets the same item, so that it answers alike). It
    is in the address's customer index too, so one query finds the customers and their code."""
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"PORTAL_CODE#{normalise_email(email)}"}


def portal_code_index(account_id: str, email: str) -> Key:
    return {"gsi1pk": f"CUSTOMER_EMAIL#{account_id}#{normalise_email(email)}", "gsi1sk": "~PORTAL_CODE"}


def phone_code(account_id: str, customer_id: str) -> Key:
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"PHONE_CODE#{customer_id}"}


def user_phone_code(user_id: str, purpose: str) -> Key:
    """The current code of a merchant user's phone: ``verify`` (to the number being set) or
    ``release`` (to the verified number, to clear it). Under the user id, which an email change
    leaves as it is."""
    return {"pk": f"USER#{user_id}", "sk": f"PHONE_CODE#{purpose}"}


def consent(user_id: str, at: str) -> Key:
    return {"pk": f"USER#{user_id}", "sk": f"CONSENT#{at}"}


def consents_of(user_id: str) -> Query:
    return _starting("pk", "sk", f"USER#{user_id}", "CONSENT#", None)


def privacy_request(user_id: str, request_id: str) -> Key:
    return {"pk": f"USER#{user_id}", "sk": f"PRIVACY#{request_id}"}


def privacy_requests_of(user_id: str) -> Query:
    return _starting("pk", "sk", f"USER#{user_id}", "PRIVACY#", None)


def pending_privacy_request(user_id: str, kind: str) -> Key:
    """The guard that keeps one pending request of a kind per user."""
    return {"pk": f"USER#{user_id}", "sk": f"PRIVACY_PENDING#{kind}"}


def account_privacy_request(account_id: str, request_id: str) -> Key:
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"PRIVACY#{request_id}"}


def account_privacy_requests(account_id: str) -> Query:
    return _starting("pk", "sk", f"ACCOUNT#{account_id}", "PRIVACY#", None)


def job_mark(job: str) -> Key:
    """Where a scheduled job keeps how far its work is done (``subscription-renewal``'s hour)."""
    return {"pk": f"JOB#{job}", "sk": "MARK"}


def gateway_charge(idempotency_key: str) -> Key:
    return {"pk": f"GATEWAY#{idempotency_key}", "sk": "CHARGE"}


# ----------------------------------------------------------------- rate limits


def rate(scope: str, subject: str, window: str) -> Key:
    return {"pk": f"RATE#{scope}#{subject}", "sk": window}


def is_rate_counter(key: Key) -> bool:
    return key["pk"].startswith("RATE#")


# ----------------------------------------------------------------- email addresses


def normalise_email(email: str) -> str:
    """The form in which two addresses are the same login, member or rate-limit subject.

    The local part: NFKC, then full Unicode case folding, then the Turkic i's folded to ``i`` --
    fullwidth letters are their ASCII selves (U+FF41 is "a"), "ß" is "ss", U+0130 and the dotless
    U+0131 are "i", and case never matters. Look-alikes that fold together cannot belong to two
    people. The domain: NFKC and lower case only, because case folding would merge domains that
    IDNA keeps apart ("straße.de" and "strasse.de" are two domains). The stored address keeps the
    spelling its owner typed (after NFKC, see :mod:`portico.fields`); this form is only compared
    and used in keys.
    """
    local, at, domain = unicodedata.normalize("NFKC", email.strip()).rpartition("@")
    if not at:
        local, domain = domain, ""
    folded = unicodedata.normalize("NFKC", local.casefold()).replace("i\u0307", "i").replace("\u0131", "i")
    return f"{folded}@{domain.lower()}" if at else folded
