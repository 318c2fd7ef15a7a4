"""Storage of login credentials (:class:`~portico.auth.credentials.Credential`): the only module of
:mod:`portico.auth` that talks to the table. Sessions and challenges are token sessions
(:mod:`portico.tokens`).

* The lockout state lives on the credential with a ``version``: every attempt first records itself
  as a failure with a condition on the version it read, then verifies the password; so N parallel
  guesses are N counted failures, never N free tries. An email without a login keeps the same
  state in a counter item of its own, so unknown addresses lock exactly as known ones do.
* ``auth_version`` names the state of what proves a login: it moves on with every password change
  or reset, every change of the second factor and every admin reset. Whatever was issued against a
  state (login challenges, reset links and codes, a pending TOTP enrollment) carries the version it
  was issued at and is refused once the credential has moved on; :func:`moved_on` also removes the
  fields bound to the old state in the same write.
* :func:`update_op` is the one update of a credential; every change goes through it.
"""

from __future__ import annotations

from typing import Any

from portico import ids, keys, store
from portico.auth.credentials import FIELDS, Credential
from portico.auth.lockout import State
from portico.keys import Write

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
_INDEX_FIELDS = frozenset({"gsi1pk", "gsi1sk"})  # the password-expiry index


def get_credential(email: str) -> Credential | None:
    item = store.get(keys.credential(email), consistent=True)
    return Credential.from_item(store.plain(item)) if item else None


def get_credentials(emails: list[str]) -> list[Credential | None]:
    """Several credentials, in the order asked (one call per 100)."""
    found = store.batch_get([keys.credential(e) for e in emails])
    return [Credential.from_item(store.plain(i)) if i else None for i in found]


def expiring_on(day: str) -> list[Credential]:
    """Credentials whose password expires on ``day``, through the expiry index (no scan)."""
    return [Credential.from_item(store.plain(i)) for i in store.query_all(keys.expiring_on(day))]


def create_op(credential: Credential, index: dict[str, str]) -> Write:
    """The write that creates a login; its condition is what keeps an email one login."""
    item = credential.to_item()
    return store.put_op({**keys.credential(credential.email), **index, **item}, condition="attribute_not_exists(pk)")


def delete_op(credential: Credential) -> Write:
    """Remove a login created in this request (its email could not be sent)."""
    return store.delete_op(
        keys.credential(credential.email), condition="user_id = :u", values={":u": credential.user_id}
    )


# ----------------------------------------------------------------- lockout


def _unknown_key(email: str) -> keys.Key:
    return keys.rate("login-unknown", ids.digest(keys.normalise_email(email)), "lockout")


def unknown_lockout(email: str) -> tuple[State, int]:
    """The lockout state of an email without a login, and its version."""
    item = store.plain(store.get(_unknown_key(email), consistent=True) or {})
    return State.of(item), int(item.get("version", 0))


def record_attempt(email: str, version: int, state: State, *, known: bool) -> bool:
    """Count an attempt as a failure before verifying it (``state`` is the state after it); False if
    another attempt came first."""
    fields = state.to_item()
    key = keys.credential(email) if known else _unknown_key(email)
    names = {f"#{k}": k for k in fields}
    values: dict[str, Any] = {**{f":{k}": v for k, v in fields.items()}, ":version": version, ":next": version + 1}
    expression = "SET " + ", ".join(f"#{k} = :{k}" for k in fields) + ", version = :next"
    condition = "version = :version"
    if not known:  # a counter of its own, created by the first attempt and cleaned up after two hours
        expression += ", #ttl = :ttl"
        names["#ttl"] = "ttl"
        values[":ttl"] = int(fields["last_failure_ms"]) // 1000 + 2 * 3600
        condition = "attribute_not_exists(pk) OR version = :version"
    try:
        store.update(key, expression, condition=condition, values=values, names=names)
    except store.ConditionFailed:
        return False
    return True


# ----------------------------------------------------------------- the credential's state


def same_state(credential: Credential) -> tuple[str, dict[str, Any]]:
    """A condition that holds while the credential is still in the state it was read in."""
    if credential.auth_version is None:
        return "attribute_not_exists(auth_version)", {}
    return "auth_version = :auth_seen", {":auth_seen": credential.auth_version}


def moved_on(credential: Credential) -> dict[str, Any]:
    """Fields that start a new state: the next version, and nothing bound to the old one."""
    return {**dict.fromkeys(BOUND_TO_STATE), "auth_version": credential.state + 1}


# ----------------------------------------------------------------- the one update


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
) -> Write:
    """The one update of a login credential: set ``fields`` (None values are removed, as are the
    paths in ``remove``), ``add`` to numbers, ``append`` to lists, and move ``version`` on (unless
    not ``versioned``: a write no reader of the lockout state needs to notice), if ``condition``
    holds."""
    unknown = set(fields) - FIELDS - _INDEX_FIELDS
    if unknown:
        raise ValueError(f"not credential fields: {sorted(unknown)}")
    fields = {k: (v.to_item() if hasattr(v, "to_item") else v) for k, v in fields.items()}
    sets = {k: v for k, v in fields.items() if v is not None}
    appends = append or {}
    adds = add or {}
    removes = [f"#{k}" for k, v in fields.items() if v is None] + list(remove)
    clauses = [f"#{k} = :{k}" for k in sets]
    clauses += [f"#{k} = list_append(if_not_exists(#{k}, :empty_list), :append_{k})" for k in appends]
    if versioned:
        clauses.append("version = version + :one")
    expression = ("SET " + ", ".join(clauses)) if clauses else ""
    if adds:
        expression += " ADD " + ", ".join(f"#{k} :add_{k}" for k in adds)
    if removes:
        expression += " REMOVE " + ", ".join(removes)
    return store.update_op(
        keys.credential(email),
        expression.strip(),
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
    credential: Credential,
    extra: dict[str, Any] | None = None,
    *,
    remove: tuple[str, ...] = (),
    condition: str | None = None,
    values: dict[str, Any] | None = None,
    complete: bool = True,
    append: dict[str, list[Any]] | None = None,
) -> list[Write]:
    """After a verified attempt: reset the consecutive failures (``complete``: the login is
    done), take the attempt back out of the hour's count, set ``extra`` -- only if the credential
    is still in the state it was read in (a reset, change or second-factor change that committed
    meanwhile wins) and ``condition`` holds (for example: this TOTP step is newer than the last
    one used)."""
    # A completed login resets the consecutive failures. A password step that leads on to a second
    # factor only takes its own attempt back out: otherwise knowing the password would reset the
    # count of wrong codes, and codes could be guessed four at a time forever.
    fields = {**({"failed_count": 0, "last_failure_ms": 0} if complete else {}), **(extra or {})}
    state, state_values = same_state(credential)
    return [
        update_op(
            credential.email,
            fields,
            condition=f"password_hash = :verified AND {state}" + (f" AND ({condition})" if condition else ""),
            values={":verified": credential.password_hash, **state_values, **(values or {})},
            add={"hour_failures": -1, **({} if complete else {"failed_count": -1})},
            append=append,
            remove=remove,
        )
    ]


write = store.try_transact  # one transaction of the writes given; False when a condition no longer held


# ----------------------------------------------------------------- a new address


def move_ops(credential: Credential, new_email: str, fields: dict[str, Any]) -> list[Write]:
    """Move the login to ``new_email`` with ``fields`` set (None: removed): the credential is keyed
    by its address, so its item is put under the new key, on the condition that no login has that
    address (the guard that keeps an email one login, also against a concurrent move or sign-up),
    and the old item is deleted, on the condition that it is still as it was read."""
    item = store.get(keys.credential(credential.email), consistent=True)  # with its expiry index
    stored = store.plain(item) if item else credential.to_item()  # gone: the delete's condition fails
    moved = {k: v for k, v in {**stored, **fields}.items() if v is not None}
    moved.update({**keys.credential(new_email), "email": new_email, "version": credential.version + 1})
    return [
        store.put_op(moved, condition="attribute_not_exists(pk)"),
        store.delete_op(
            keys.credential(credential.email),
            condition="user_id = :u AND version = :v",
            values={":u": credential.user_id, ":v": credential.version},
        ),
    ]
