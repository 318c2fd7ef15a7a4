"""DynamoDB access for login: credentials (password and lockout state), challenges, sessions.

* Lockout state lives on the credential with a ``version``: every attempt first records itself as
  a failure with a condition on the version it read, then verifies the password; so N parallel
  guesses are N counted failures, never N free tries.
* Challenges and sessions are stored under the SHA-256 of their token; the token itself is never
  stored. Deleting a session item is revoking it: the next request cannot find it.
"""

from __future__ import annotations

import contextlib
from typing import Any

from portico import ids, keys, store


def get_credential(email: str) -> dict[str, Any] | None:
    return store.get(keys.credential(email), consistent=True)


def unknown_lockout_key(email: str) -> dict[str, str]:
    """Where the lockout state of an email without a login lives: unknown emails lock exactly as
    known ones do, so the answers never tell them apart."""
    return keys.rate("login-unknown", ids.digest(keys.normalise_email(email)), "lockout")


def get_lockout(key: dict[str, str]) -> dict[str, Any]:
    return store.get(key, consistent=True) or {"version": 0}


def record_attempt(key: dict[str, str], version: int, state: dict[str, Any], *, create: bool = False) -> bool:
    """Count an attempt as a failure before verifying it; False if another attempt came first."""
    sets = ", ".join(f"#{name} = :{name}" for name in state)
    condition = "attribute_not_exists(pk) OR version = :version" if create else "version = :version"
    extra = ", #ttl = :ttl" if create else ""
    try:
        store.update(
            key,
            f"SET {sets}, version = :next{extra}",
            condition=condition,
            values={
                **{f":{k}": v for k, v in state.items()},
                ":version": version,
                ":next": version + 1,
                **({":ttl": int(state["last_failure_ms"]) // 1000 + 2 * 3600} if create else {}),
            },
            names={**{f"#{k}": k for k in state}, **({"#ttl": "ttl"} if create else {})},
        )
    except store.ConditionFailed:
        return False
    return True


# ----------------------------------------------------------------- the credential's state
#
# ``auth_version`` names the state of what proves a login: it moves on with every password
# change or reset, every change of the second factor and every admin reset. Whatever was issued
# against a state (login challenges, reset links and codes, a pending TOTP enrollment) carries
# the version it was issued at and is refused once the credential has moved on; the fields bound
# to a state are removed by the same write that moves it on.

BOUND_TO_STATE = (
    "reset_link_hash",
    "reset_code_hash",
    "reset_code_salt",
    "reset_code_expires",
    "reset_code_attempts",
    "totp_pending_sealed",
    "totp_pending_expires",
    "totp_pending_for",
)


# Every field of the second factor: what turning it off or an admin reset removes.
SECOND_FACTOR_FIELDS = (
    "totp_sealed",
    "totp_last_step",
    "recovery_hashes",
    "totp_pending_sealed",
    "totp_pending_expires",
    "totp_pending_for",
)


def auth_version(credential: dict[str, Any]) -> int:
    return int(credential.get("auth_version", 0))


def same_state(credential: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A condition that holds while the credential is still in the state it was read in."""
    if "auth_version" not in credential:
        return "attribute_not_exists(auth_version)", {}
    return "auth_version = :auth_seen", {":auth_seen": auth_version(credential)}


def moved_on(credential: dict[str, Any]) -> dict[str, Any]:
    """Fields that start a new state: the next version, and nothing bound to the old one."""
    return {**dict.fromkeys(BOUND_TO_STATE), "auth_version": auth_version(credential) + 1}


def update_op(
    email: str,
    fields: dict[str, Any],
    *,
    condition: str = "attribute_exists(pk)",
    values: dict[str, Any] | None = None,
    add: dict[str, int] | None = None,
    append: dict[str, list[Any]] | None = None,
    remove: tuple[str, ...] = (),
    versioned: bool = True,
) -> dict:
    """The one update of a login credential: set ``fields`` (None values are removed, as are the
    paths in ``remove``), ``add`` to numbers, ``append`` to lists, and move ``version`` on (unless
    not ``versioned``: a write no reader of the lockout state needs to notice), if ``condition``
    holds."""
    sets = {k: v for k, v in fields.items() if v is not None}
    appends = append or {}
    adds = add or {}
    removes = [f"#{k}" for k, v in fields.items() if v is None] + list(remove)
    clauses = [f"#{k} = :{k}" for k in sets]
    clauses += [f"#{k} = list_append(if_not_exists(#{k}, :empty_list), :append_{k})" for k in appends]
    # With nothing else to set (restoring fields that were absent) the SET clause is the version alone.
    if versioned:
        clauses.append("version = version + :one")
    expression = ("SET " + ", ".join(clauses)) if clauses else ""
    if adds:
        expression += " ADD " + ", ".join(f"#{k} :add_{k}" for k in adds)
    if removes:
        expression += " REMOVE " + ", ".join(removes)
    expression = expression.strip()
    return store.update_op(
        keys.credential(email),
        expression,
        condition=condition,
        values={
            **{f":{k}": v for k, v in sets.items()},
            **({":one": 1} if versioned else {}),
            **({":empty_list": []} if appends else {}),
            **{f":append_{k}": v for k, v in appends.items()},
            **{f":add_{k}": v for k, v in adds.items()},
            **(values or {}),
        },
        names={f"#{k}": k for k in [*fields, *appends, *adds]},
    )


def success_ops(
    credential: dict[str, Any],
    extra: dict[str, Any] | None = None,
    *,
    remove: tuple[str, ...] = (),
    condition: str | None = None,
    values: dict[str, Any] | None = None,
    complete: bool = True,
    append: dict[str, list[Any]] | None = None,
) -> list[dict]:
    """After a verified attempt: reset the consecutive failures (``complete``: the login is
    done), take the attempt back out of the hour's count, set ``extra`` (None values are removed,
    as are the paths in ``remove``) -- only if the credential is still in the state it was read
    in (a reset, change or second-factor change that committed meanwhile wins) and ``condition``
    holds (for example: this TOTP step is newer than the last one used). ``append`` adds
    elements to list attributes."""
    # A completed login resets the consecutive failures. A password step that leads on to a second
    # factor only takes its own attempt back out: otherwise knowing the password would reset the
    # count of wrong codes, and codes could be guessed four at a time forever.
    fields = {**({"failed_count": 0, "last_failure_ms": 0} if complete else {}), **(extra or {})}
    state, state_values = same_state(credential)
    return [
        update_op(
            str(credential["email"]),
            fields,
            condition=f"password_hash = :verified AND {state}" + (f" AND ({condition})" if condition else ""),
            values={":verified": credential["password_hash"], **state_values, **(values or {})},
            add={"hour_failures": -1, **({} if complete else {"failed_count": -1})},
            append=append,
            remove=remove,
        )
    ]


# ----------------------------------------------------------------- challenges


def challenge_put_op(challenge_hash: str, item: dict[str, Any]) -> dict:
    return store.put_op({**keys.challenge(challenge_hash), **item}, condition="attribute_not_exists(pk)")


def get_challenge(challenge_hash: str) -> dict[str, Any] | None:
    return store.get(keys.challenge(challenge_hash), consistent=True)


def challenge_consume_op(challenge_hash: str, purpose: str, now_epoch: int) -> dict:
    """Delete the challenge if it is still valid for ``purpose``: single use, also when raced."""
    return store.delete_op(
        keys.challenge(challenge_hash),
        condition="attribute_exists(pk) AND purpose = :p AND expires_at > :now",
        values={":p": purpose, ":now": now_epoch},
    )


# ----------------------------------------------------------------- sessions


def session_put_op(token_hash: str, item: dict[str, Any]) -> dict:
    return store.put_op(
        {**keys.session(token_hash), **keys.session_index(item["user_id"], item["session_id"]), **item},
        condition="attribute_not_exists(pk)",
    )


def get_session(token_hash: str) -> dict[str, Any] | None:
    return store.get(keys.session(token_hash), consistent=True)


def touch_session(token_hash: str, now_epoch: int, stale_before: int) -> None:
    """Refresh ``last_seen_at`` at most once per interval (the condition skips fresh ones)."""
    with contextlib.suppress(store.ConditionFailed):
        store.update(
            keys.session(token_hash),
            "SET last_seen_at = :now",
            condition="attribute_exists(pk) AND last_seen_at < :stale",
            values={":now": now_epoch, ":stale": stale_before},
        )


def reauthenticated_op(token_hash: str, now_epoch: int, *, mfa: bool) -> dict:
    """Mark the session freshly authenticated (and as having a second factor, if one was given)."""
    return store.update_op(
        keys.session(token_hash),
        "SET authenticated_at = :now" + (", mfa = :true" if mfa else ""),
        condition="attribute_exists(pk)",
        values={":now": now_epoch, **({":true": True} if mfa else {})},
    )


def sessions_of(user_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    start = None
    while True:
        page, start = store.query(
            "gsi1pk = :u AND begins_with(gsi1sk, :s)",
            {":u": f"USER#{user_id}", ":s": "SESSION#"},
            index="gsi1",
            start=start,
        )
        found.extend(page)
        if not start:
            return found


def delete_session(token_hash: str) -> None:
    store.transact([store.delete_op(keys.session(token_hash))])


def delete_sessions(token_hashes: list[str]) -> None:
    """Revoke sessions in transactions of up to 100 (DynamoDB's limit)."""
    for start in range(0, len(token_hashes), 100):
        batch = token_hashes[start : start + 100]
        store.transact([store.delete_op(keys.session(h)) for h in batch])
