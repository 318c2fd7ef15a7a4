"""A user in several accounts gets the strictest of their security settings."""

from portico.security.policy import PasswordPolicy
from portico.security.settings import Effective, SecuritySettings


def test_strictest_of_several_accounts():
    relaxed = SecuritySettings(
        session_idle_minutes=60,
        session_absolute_hours=24,
        password_policy=PasswordPolicy(min_length=12, max_age_days=0, history=2),
    )
    strict = SecuritySettings(
        enforce_mfa=True,
        session_idle_minutes=15,
        session_absolute_hours=48,
        password_policy=PasswordPolicy(min_length=16, max_age_days=60, history=10),
    )
    merged = Effective.of([relaxed, strict])
    assert merged.enforce_mfa is True
    assert merged.session_idle_minutes == 15 and merged.session_absolute_hours == 24
    assert merged.password_policy.min_length == 16
    assert merged.password_policy.max_age_days == 60  # 0 (never) is the weakest
    assert merged.password_policy.history == 10


def test_no_accounts_means_defaults_and_items_round_trip():
    assert Effective.of([]) == Effective()
    stored = Effective.of([SecuritySettings(session_idle_minutes=10)]).to_item()
    assert Effective.from_item(stored).session_idle_minutes == 10
