"""Small secrets (TOTP secrets) encrypted at rest with the template's KMS key.

The ciphertext is bound to whom and what it belongs to by the KMS encryption context
``{"purpose": ..., "user_id": ...}``: a sealed value copied onto another user's item, or used for
another purpose, does not decrypt. Decrypt names the key as well, so a ciphertext made under any
other key is refused. KMS errors (botocore ``ClientError``) propagate: the HTTP layer answers 503.
"""

from __future__ import annotations

import base64

from portico import aws
from portico.config import ConfigurationError, settings


def _key_id() -> str:
    key_id = settings().kms_key_id
    if not key_id:
        raise ConfigurationError("invalid Portico configuration: KMS_KEY_ID")
    return key_id


def _context(user_id: str, purpose: str) -> dict[str, str]:
    return {"purpose": purpose, "user_id": user_id}


def seal(plaintext: str, *, user_id: str, purpose: str = "totp") -> str:
    """Encrypt ``plaintext`` for ``user_id``; the result (base64 of the KMS ciphertext blob) is what is stored."""
    answer = aws.client("kms").encrypt(
        KeyId=_key_id(), Plaintext=plaintext.encode("utf-8"), EncryptionContext=_context(user_id, purpose)
    )
    return base64.b64encode(answer["CiphertextBlob"]).decode("ascii")


def unseal(sealed: str, *, user_id: str, purpose: str = "totp") -> str:
    """Decrypt what :func:`seal` returned, for the same ``user_id`` and ``purpose``."""
    answer = aws.client("kms").decrypt(
        KeyId=_key_id(),
        CiphertextBlob=base64.b64decode(sealed, validate=True),
        EncryptionContext=_context(user_id, purpose),
    )
    return str(answer["Plaintext"].decode("utf-8"))
