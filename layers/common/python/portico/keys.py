"""Key builders for the single table, and the access patterns they serve.

Every item has ``pk`` and ``sk``; some carry ``gsi1pk``/``gsi1sk`` for the one secondary index.
``ttl`` (epoch seconds) only cleans up: code always checks expiry itself.

Access patterns:

=====================================  ====================================================
pattern                                key
=====================================  ====================================================
user profile by id                     pk=USER#<user_id>          sk=PROFILE
login credential by email (unique)     pk=EMAIL#<email lower>     sk=CREDENTIAL
passwords expiring on a day            gsi1pk=PWEXP#<yyyy-mm-dd>  gsi1sk=<user_id>
account by id                          pk=ACCOUNT#<account_id>    sk=ACCOUNT
membership of a user in an account     pk=ACCOUNT#<account_id>    sk=MEMBER#<user_id>
members of an account                  pk=ACCOUNT#<account_id>    sk begins_with MEMBER#
member by email, unique per account    pk=ACCOUNT#<account_id>    sk=MEMBER_EMAIL#<email lower>
accounts of a user                     gsi1pk=USER#<user_id>      gsi1sk begins_with MEMBER#
one-time token by its hash             pk=TOKEN#<sha256>          sk=TOKEN
login challenge by its hash            pk=CHALLENGE#<sha256>      sk=CHALLENGE
session by its token's hash            pk=SESSION#<sha256>        sk=SESSION
portal session by its token's hash     pk=PORTAL_SESSION#<sha256> sk=SESSION
sessions of a user                     gsi1pk=USER#<user_id>      gsi1sk begins_with SESSION#
audit records of an account, by time   pk=AUDIT#<account_id>      sk=<iso time>#<event id>
audit records still to fan out         gsi1pk=AUDIT_FANOUT        gsi1sk=<iso time>#<event id>
rate-limit counter                     pk=RATE#<scope>#<subject>  sk=<window>
=====================================  ====================================================
"""

from __future__ import annotations

import unicodedata


def user(user_id: str) -> dict[str, str]:
    return {"pk": f"USER#{user_id}", "sk": "PROFILE"}


def credential(email: str) -> dict[str, str]:
    """The login credential, keyed by the login name so a login step reads one item; its
    conditional creation is also what keeps emails unique."""
    return {"pk": f"EMAIL#{normalise_email(email)}", "sk": "CREDENTIAL"}


def expiry_index(day: str, user_id: str) -> dict[str, str]:
    return {"gsi1pk": f"PWEXP#{day}", "gsi1sk": user_id}


def account(account_id: str) -> dict[str, str]:
    return {"pk": f"ACCOUNT#{account_id}", "sk": "ACCOUNT"}


def membership(account_id: str, user_id: str) -> dict[str, str]:
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"MEMBER#{user_id}"}


def member_email(account_id: str, email: str) -> dict[str, str]:
    """The guard that makes an email a member of an account at most once (invitations race)."""
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"MEMBER_EMAIL#{normalise_email(email)}"}


def membership_index(account_id: str, user_id: str) -> dict[str, str]:
    """The GSI attributes that list a user's memberships."""
    return {"gsi1pk": f"USER#{user_id}", "gsi1sk": f"MEMBER#{account_id}"}


def token(token_hash: str) -> dict[str, str]:
    return {"pk": f"TOKEN#{token_hash}", "sk": "TOKEN"}


def challenge(challenge_hash: str) -> dict[str, str]:
    return {"pk": f"CHALLENGE#{challenge_hash}", "sk": "CHALLENGE"}


def session(token_hash: str) -> dict[str, str]:
    return {"pk": f"SESSION#{token_hash}", "sk": "SESSION"}


def portal_session(token_hash: str) -> dict[str, str]:
    return {"pk": f"PORTAL_SESSION#{token_hash}", "sk": "SESSION"}


def session_index(user_id: str, session_id: str) -> dict[str, str]:
    return {"gsi1pk": f"USER#{user_id}", "gsi1sk": f"SESSION#{session_id}"}


def audit(account_id: str, at: str, event_id: str) -> dict[str, str]:
    return {"pk": f"AUDIT#{account_id}", "sk": f"{at}#{event_id}"}


def audit_fanout(event_id: str) -> dict[str, str]:
    """A record to copy into more accounts than one transaction holds (see :mod:`portico.audit`)."""
    return {"pk": f"AUDIT_FANOUT#{event_id}", "sk": "AUDIT_FANOUT"}


def audit_fanout_index(ordered: str, event_id: str) -> dict[str, str]:
    return {"gsi1pk": "AUDIT_FANOUT", "gsi1sk": f"{ordered}#{event_id}"}


def rate(scope: str, subject: str, window: str) -> dict[str, str]:
    return {"pk": f"RATE#{scope}#{subject}", "sk": window}


def normalise_email(email: str) -> str:
    """The form in which two addresses are the same login, member or rate-limit subject.

    NFKC, then full Unicode case folding, then the Turkic i's folded to ``i``: fullwidth letters
    are their ASCII selves (U+FF41 is "a"), "ß" is "ss", U+0130 and the dotless U+0131 are "i", and case
    never matters, in the local part as in the domain. Look-alikes that fold together cannot
    belong to two people. The stored address keeps the spelling its owner typed (after NFKC, see
    :mod:`portico.identity.models`); this form is only compared and used in keys.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email.strip()).casefold())
    return folded.replace("i\u0307", "i").replace("\u0131", "i")
