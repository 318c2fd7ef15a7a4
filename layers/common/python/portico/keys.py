"""Key builders for the single table, and the access patterns they serve.

Every item has ``pk`` and ``sk``; some carry ``gsi1pk``/``gsi1sk`` for the one secondary index.
``ttl`` (epoch seconds) only cleans up: code always checks expiry itself.

Access patterns:

=====================================  ====================================================
pattern                                key
=====================================  ====================================================
user by id                             pk=USER#<user_id>          sk=PROFILE
user id by email (uniqueness guard)    pk=EMAIL#<email lower>     sk=EMAIL
account by id                          pk=ACCOUNT#<account_id>    sk=ACCOUNT
membership of a user in an account     pk=ACCOUNT#<account_id>    sk=MEMBER#<user_id>
members of an account                  pk=ACCOUNT#<account_id>    sk begins_with MEMBER#
accounts of a user                     gsi1pk=USER#<user_id>      gsi1sk begins_with MEMBER#
one-time token by its hash             pk=TOKEN#<sha256>          sk=TOKEN
rate-limit counter                     pk=RATE#<scope>#<subject>  sk=<window>
=====================================  ====================================================
"""

from __future__ import annotations


def user(user_id: str) -> dict[str, str]:
    return {"pk": f"USER#{user_id}", "sk": "PROFILE"}


def email_guard(email: str) -> dict[str, str]:
    return {"pk": f"EMAIL#{normalise_email(email)}", "sk": "EMAIL"}


def account(account_id: str) -> dict[str, str]:
    return {"pk": f"ACCOUNT#{account_id}", "sk": "ACCOUNT"}


def membership(account_id: str, user_id: str) -> dict[str, str]:
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"MEMBER#{user_id}"}


def membership_index(account_id: str, user_id: str) -> dict[str, str]:
    """The GSI attributes that list a user's memberships."""
    return {"gsi1pk": f"USER#{user_id}", "gsi1sk": f"MEMBER#{account_id}"}


def token(token_hash: str) -> dict[str, str]:
    return {"pk": f"TOKEN#{token_hash}", "sk": "TOKEN"}


def rate(scope: str, subject: str, window: str) -> dict[str, str]:
    return {"pk": f"RATE#{scope}#{subject}", "sk": window}


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively as a whole; the stored address keeps its spelling."""
    return email.strip().lower()
