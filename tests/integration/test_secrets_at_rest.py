"""TOTP secrets sealed with the template's KMS key (under moto), bound to user and purpose."""

import base64

import pytest
from botocore.exceptions import ClientError

from portico import aws, config, secrets_at_rest
from portico.auth import totp


def error_code(raised: pytest.ExceptionInfo) -> str:
    return raised.value.response["Error"]["Code"]


def test_round_trip_under_the_template_key(template_env):
    secret = totp.new_secret()
    sealed = secrets_at_rest.seal(secret, user_id="usr_ada")
    assert secrets_at_rest.unseal(sealed, user_id="usr_ada") == secret
    assert secrets_at_rest.unseal(sealed, user_id="usr_ada", purpose="totp") == secret
    key = aws.client("kms").describe_key(KeyId=config.settings().kms_key_id)["KeyMetadata"]
    assert key["Description"].startswith("Portico") and key["KeyManager"] == "CUSTOMER"


def test_sealed_value_is_text_and_reveals_nothing(template_env):
    secret = totp.new_secret()
    sealed = secrets_at_rest.seal(secret, user_id="usr_ada")
    blob = base64.b64decode(sealed, validate=True)
    assert secret not in sealed
    assert secret.encode() not in blob and base64.b32decode(secret) not in blob
    assert secrets_at_rest.seal(secret, user_id="usr_ada") != sealed  # fresh IV every time


def test_another_user_or_purpose_cannot_decrypt(template_env):
    """moto binds the encryption context into the ciphertext (AES-GCM additional data), as KMS does."""
    sealed = secrets_at_rest.seal(totp.new_secret(), user_id="usr_ada")
    with pytest.raises(ClientError) as raised:
        secrets_at_rest.unseal(sealed, user_id="usr_bob")
    assert error_code(raised) == "InvalidCiphertextException"
    with pytest.raises(ClientError) as raised:
        secrets_at_rest.unseal(sealed, user_id="usr_ada", purpose="recovery")
    assert error_code(raised) == "InvalidCiphertextException"


def test_ciphertext_under_another_key_is_refused(template_env):
    kms = aws.client("kms")
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(
        KeyId=other, Plaintext=b"JBSWY3DPEHPK3PXP", EncryptionContext={"purpose": "totp", "user_id": "usr_ada"}
    )
    with pytest.raises(ClientError) as raised:
        secrets_at_rest.unseal(base64.b64encode(blob["CiphertextBlob"]).decode(), user_id="usr_ada")
    assert error_code(raised) == "AccessDeniedException"


@pytest.mark.parametrize(
    ("operation", "code"), [("Encrypt", "KMSInternalException"), ("Decrypt", "ThrottlingException")]
)
def test_kms_failures_propagate_as_client_errors(template_env, fail_aws, operation, code):
    sealed = secrets_at_rest.seal("JBSWY3DPEHPK3PXP", user_id="usr_ada")
    with fail_aws("kms", operation, code), pytest.raises(ClientError) as raised:
        if operation == "Encrypt":
            secrets_at_rest.seal("JBSWY3DPEHPK3PXP", user_id="usr_ada")
        else:
            secrets_at_rest.unseal(sealed, user_id="usr_ada")
    assert error_code(raised) == code
    assert secrets_at_rest.unseal(sealed, user_id="usr_ada") == "JBSWY3DPEHPK3PXP"  # KMS is back


def test_a_missing_key_is_a_configuration_error(template_env, monkeypatch):
    monkeypatch.setenv("KMS_KEY_ID", "")
    config.settings.cache_clear()
    with pytest.raises(config.ConfigurationError, match="KMS_KEY_ID"):
        secrets_at_rest.seal("JBSWY3DPEHPK3PXP", user_id="usr_ada")
