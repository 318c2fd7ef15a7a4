"""Login challenges: a single-purpose token for exactly the next step of one login, valid 10
minutes, on the token-session core (:mod:`portico.tokens`).

A challenge is bound to the state of the credential it was issued for (``bound_version``, the
credential's ``auth_version``): once the password changed or was reset, or the second factor
changed, it is refused. It is used once: its conditional delete is written in the transaction of
the step it allows, with a write of the credential that is conditional on that state too, so a
reset that commits between the read and the step's write still wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from portico import keys
from portico.auth.credentials import Credential
from portico.keys import Write
from portico.tokens import sessions as core

KIND = core.Kind("challenge", "", keys.challenge, touch=False)
VALIDITY_SECONDS = 10 * 60

Purpose = Literal["password_change", "mfa", "mfa_enrollment"]


@dataclass(frozen=True, kw_only=True)
class Challenge(core.TokenSession):
    purpose: str
    user_id: str
    email: str
    password_done: bool = False


def issue_op(credential: Credential, purpose: Purpose, *, password_done: bool) -> tuple[str, Write]:
    """A new challenge for the next step (the secret to answer, the write to include)."""
    secret, token_hash = core.new_secret(KIND)
    challenge = Challenge(
        token_hash=token_hash,
        purpose=purpose,
        user_id=credential.user_id,
        email=credential.email,
        password_done=password_done,
        bound_version=credential.state,
        **core.lifetimes(absolute_seconds=VALIDITY_SECONDS),  # type: ignore[arg-type]
    )
    return secret, core.issue_op(KIND, challenge)


def find(secret: str, purpose: Purpose) -> Challenge | None:
    challenge = core.find(KIND, Challenge, secret)
    return challenge if challenge is not None and challenge.purpose == purpose else None


def consume_op(challenge: Challenge) -> Write:
    return core.consume_op(KIND, challenge.token_hash, equal={"purpose": challenge.purpose})
