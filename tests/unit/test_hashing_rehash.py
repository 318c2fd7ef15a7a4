"""Argon2id parameters (``portico.config.argon2_parameters``) and rehash on login: a stored hash
made with other parameters is replaced at the next successful password login, in the login's own
conditional write, so a password changed meanwhile is never overwritten."""

from __future__ import annotations

import pytest
from argon2 import Parameters as Argon2Parameters
from argon2 import PasswordHasher, Type, extract_parameters

from infra.local.outbox import messages as read_outbox
from portico import clock as portico_clock
from portico import config, keys, store
from portico.auth import hashing, repository
from tests.integration.support import PASSWORD, Api, FakeClock, provisioned

# ----------------------------------------------------------------- the parameters


@pytest.fixture
def argon2_env(monkeypatch):
    for name in ("ARGON2_MEMORY_KIB", "ARGON2_TIME_COST", "ARGON2_PARALLELISM"):
        monkeypatch.delenv(name, raising=False)
    config.argon2_parameters.cache_clear()
    yield monkeypatch
    config.argon2_parameters.cache_clear()


def test_defaults_are_owasps_recommended_setting(argon2_env):
    assert config.argon2_parameters() == config.Argon2Parameters(memory_kib=19_456, time_cost=2, parallelism=1)


@pytest.mark.parametrize(
    ("memory", "time"), [("47104", "1"), ("19456", "2"), ("12288", "3"), ("9216", "4"), ("7168", "5"), ("65536", "3")]
)
def test_every_setting_of_owasps_table_and_above_is_accepted(argon2_env, memory, time):
    argon2_env.setenv("ARGON2_MEMORY_KIB", memory)
    argon2_env.setenv("ARGON2_TIME_COST", time)
    parameters = config.argon2_parameters()
    assert (parameters.memory_kib, parameters.time_cost) == (int(memory), int(time))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ARGON2_MEMORY_KIB", "19455"),  # below OWASP's floor at t=2
        ("ARGON2_MEMORY_KIB", "1048576"),  # 1 GiB: more than a function can spare
        ("ARGON2_TIME_COST", "0"),
        ("ARGON2_TIME_COST", "1"),  # t=1 needs m=47104
        ("ARGON2_PARALLELISM", "0"),
        ("ARGON2_MEMORY_KIB", "64MiB"),
        ("ARGON2_TIME_COST", "²"),
    ],
)
def test_settings_below_owasps_table_or_malformed_fail_naming_the_variable(argon2_env, variable, value):
    argon2_env.setenv(variable, value)
    with pytest.raises(config.ConfigurationError) as raised:
        config.argon2_parameters()
    assert variable in str(raised.value) and value not in str(raised.value)


def test_the_hasher_uses_the_configured_parameters():
    parameters = config.argon2_parameters()
    assert (
        parameters.memory_kib,
        parameters.time_cost,
        parameters.parallelism,
    ) == (hashing.MEMORY_COST_KIB, hashing.TIME_COST, hashing.PARALLELISM)
    made = extract_parameters(hashing.hash_password("Quartz-Lantern-Vivid-42"))
    assert made == Argon2Parameters(
        type=Type.ID,
        version=19,
        salt_len=16,
        hash_len=32,
        time_cost=parameters.time_cost,
        memory_cost=parameters.memory_kib,
        parallelism=parameters.parallelism,
    )


# ----------------------------------------------------------------- rehash on login

CHEAP = {"TIME_COST": 1, "MEMORY_COST_KIB": 1024}  # the current parameters here (fast)
OLD = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)


@pytest.fixture
def cheap(monkeypatch):
    for name, value in CHEAP.items():
        monkeypatch.setattr(hashing, name, value)
    hashing._hasher.cache_clear()
    hashing.dummy_hash.cache_clear()
    yield
    hashing._hasher.cache_clear()
    hashing.dummy_hash.cache_clear()


@pytest.fixture
def api(monkeypatch, cheap):
    portico_clock.use(FakeClock())
    try:
        with provisioned(monkeypatch) as template:
            yield Api(template)
    finally:
        portico_clock.reset()


def _sign_up(api: Api, email: str = "ada@example.com") -> str:
    created = api.post(
        "/signup", {"email": email, "password": PASSWORD, "name": "Ada Lovelace", "company": "Analytical Engines"}
    )
    assert created.status == 201, created.body
    [message] = [m for m in read_outbox(email) if "verify-email?token=" in m["text"]][:1]
    token = message["text"].split("verify-email?token=", 1)[1].split()[0]
    assert api.post("/auth/verify-email", {"token": token}).status == 200
    return email


def _stored_hash(email: str) -> str:
    credential = repository.get_credential(email)
    assert credential is not None
    return credential.password_hash


def _set_hash(email: str, value: str) -> None:
    store.update(keys.credential(email), "SET password_hash = :h", values={":h": value})


def _current(stored: str) -> bool:
    made = extract_parameters(stored)
    return (made.time_cost, made.memory_cost) == (CHEAP["TIME_COST"], CHEAP["MEMORY_COST_KIB"])


def test_a_login_rehashes_a_hash_made_with_old_parameters_and_the_password_still_works(api):
    email = _sign_up(api)
    assert _current(_stored_hash(email))
    _set_hash(email, OLD.hash(PASSWORD))
    assert hashing.verify(_stored_hash(email), PASSWORD) == (True, True)

    first = api.post("/auth/login", {"email": email, "password": PASSWORD})
    assert first.status == 200 and first.body["status"] == "authenticated", first.body
    rehashed = _stored_hash(email)
    assert _current(rehashed)
    assert hashing.verify(rehashed, PASSWORD) == (True, False)

    second = api.post("/auth/login", {"email": email, "password": PASSWORD})
    assert second.status == 200 and second.body["status"] == "authenticated", second.body
    assert _stored_hash(email) == rehashed  # current parameters: no second rehash


def test_a_wrong_password_does_not_rehash(api):
    email = _sign_up(api)
    old = OLD.hash(PASSWORD)
    _set_hash(email, old)
    assert api.post("/auth/login", {"email": email, "password": "Wrong-Password-1"}).status == 401
    assert _stored_hash(email) == old


def test_a_rehash_never_overwrites_a_password_changed_meanwhile(api, monkeypatch):
    """The password changes between the login's verification and its write (a reset or a change
    committing in parallel): the login's write, rehash included, is refused, and the new password
    is what is stored."""
    email = _sign_up(api)
    _set_hash(email, OLD.hash(PASSWORD))
    changed = hashing.hash_password("Other-Pass-9x!")
    verify = hashing.verify

    def verify_then_change(stored: str, password: str) -> tuple[bool, bool]:
        answer = verify(stored, password)
        _set_hash(email, changed)  # the concurrent change commits now
        return answer

    monkeypatch.setattr(hashing, "verify", verify_then_change)
    answer = api.post("/auth/login", {"email": email, "password": PASSWORD})
    monkeypatch.setattr(hashing, "verify", verify)

    assert answer.status == 401 and answer.body["code"] == "invalid_credentials"
    assert _stored_hash(email) == changed
    assert api.post("/auth/login", {"email": email, "password": "Other-Pass-9x!"}).status == 200
