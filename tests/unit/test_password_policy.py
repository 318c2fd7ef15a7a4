"""The password policy: every reason code of the API, Unicode length, toggles, merging, bounds."""

import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from pydantic import ValidationError

from portico.security.policy import MAX_LENGTH, REASONS, PasswordPolicy, check_password

DEFAULT = PasswordPolicy()
JANE = ("Jane Doe", "jdoe1987@acme-corp.example.com", "Acme Corp GmbH")
LAYER = Path(__file__).resolve().parents[2] / "layers" / "common" / "python"


def test_reason_codes_are_the_contracts_in_order_with_reused_last():
    assert REASONS == (
        "too_short",
        "too_long",
        "missing_lowercase",
        "missing_uppercase",
        "missing_digit",
        "missing_special",
        "contains_personal_info",
        "dictionary_word",
        "common_password",
        "sequence",
        "repeated_characters",
        "reused",
    )


@pytest.mark.parametrize(
    "password",
    [
        "Vivid-Harbor-Quartz-Lantern-42",  # passphrase: words, but far from guessable
        "Correct-Horse-Battery-Staple-1",
        "Purple-Elephant-7",
        "Kx9!mP2#vL7q",  # random, exactly 12
        "Training-Remember-Cocoa7!",  # "inin", "emem", "coco" are inside words, not stutter
        "Banana-Orbit-Kettle-93",
        "Mississippi#River7",
        "Property-Harbor-9!",  # "erty" is a keyboard run only inside a word
        "Vivid Harbor Quartz 42",  # spaces are special characters
        "Ünïcödé-Straße-Fjord-42",
        "Αθήνα-Κέρκυρα-42!",
        "密码安全测试Ab1!xy",
        "Vivid-Harbor-Quartz-٤٢",  # Arabic-Indic digits are digits
    ],
)
def test_strong_passwords_pass(password):
    assert check_password(password, DEFAULT, personal=JANE) == []


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("", ["too_short", "missing_lowercase", "missing_uppercase", "missing_digit", "missing_special"]),
        ("Kx9!mP2#vL7", ["too_short"]),
        ("password", ["too_short", "missing_uppercase", "missing_digit", "missing_special", "common_password"]),
        ("VIVID-HARBOR-QUARTZ-42", ["missing_lowercase"]),
        ("vivid-harbor-quartz-42", ["missing_uppercase"]),
        ("Vivid-Harbor-Quartz-Lantern", ["missing_digit"]),
        ("VividHarborQuartzLantern42", ["missing_special"]),
        ("straße-fjord-42!", ["missing_uppercase"]),  # ß is a lowercase letter
        ("STRASSE-FJÖRD-42!", ["missing_lowercase"]),
        # common passwords: weak overall, or at least half of the password
        ("P@ssw0rd!2024", ["common_password"]),  # l33t
        ("Sunshine2024!Ab", ["common_password"]),  # score 3 in zxcvbn, but "sunshine" is over half
        ("Pass-word-2024", ["common_password"]),  # found after removing the symbols
        ("Mountain!Bike42", ["common_password"]),  # "mountainbike" once the "!" is gone
        ("Chicago#Bulls23", ["common_password"]),  # two common parts, 4e8 guesses
        ("Unicorn!Rainbow1", ["common_password"]),
        ("drowssaP!2024xQ", ["common_password"]),  # reversed
        # dictionary words where they make the password cheap
        ("Rodriguez#2024", ["dictionary_word"]),
        ("Reynolds!1988x", ["dictionary_word"]),
        ("Mitchell#2010!", ["dictionary_word"]),
        ("Michael1985#x", ["dictionary_word", "common_password"]),
        # sequences and keyboard runs
        ("Abcd-9173-Kplm!", ["sequence"]),
        ("Harbor-4321-Fjord!", ["sequence"]),
        ("Harbor-Kettle-9876!", ["sequence"]),
        ("Harbor-WxYz-Kettle7!", ["sequence"]),
        ("Harbor#$%&Kettle7x", ["sequence"]),
        ("Qwer!Harbor-Kettle-7", ["sequence"]),
        ("Asdfjkl!Harbor-7", ["sequence"]),
        ("Qwertz!Harbor-Kettle-7", ["sequence"]),
        ("HarborZxcv!Kettle7", ["sequence"]),  # a run starting a camel-case word
        ("Harbor!@#$Kettle7", ["sequence"]),  # shifted 1234
        ("1qaz2wsx!Harbor-Kettle-7", ["sequence"]),  # keyboard columns
        # repeated characters and blocks
        ("Harbor-Kettle!aaa7", ["repeated_characters"]),
        ("Harbor-Kettle!AaA7", ["repeated_characters"]),
        ("Harbor1212!Kettle", ["repeated_characters"]),
        ("Abab!Harbor-Kettle-7", ["repeated_characters"]),
        ("XyzXyz!Harbor-Kettle-7", ["repeated_characters"]),
        ("Hahaha-Orbit-Kettle-93", ["repeated_characters"]),
        ("Kx9!mP2#vL7qKx9!mP2#vL7q", ["repeated_characters"]),
        ("aaaaaaaaaaaa", ["missing_uppercase", "missing_digit", "missing_special", "repeated_characters"]),
        ("Welcome1!Welcome1!", ["common_password", "repeated_characters"]),  # the block is a common password
        ("Dragon!Dragon!7x", ["common_password", "repeated_characters"]),
    ],
)
def test_weak_passwords_name_every_broken_rule(password, expected):
    assert check_password(password, DEFAULT, personal=JANE) == expected


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("Kettle!Jane-Fjord-93", ["contains_personal_info"]),  # first name
        ("Kettle-DOE-Fjord-93", ["contains_personal_info"]),  # 3-letter surname as a word of its own
        ("KettleDoe!Fjord93", ["contains_personal_info"]),  # ... or a camel-case word
        ("Fjord!DoeKettle93", ["contains_personal_info"]),
        ("Kettle-eoD-Fjord-93", ["contains_personal_info"]),  # reversed
        ("Kettle-@cme-Fjord-93", ["contains_personal_info"]),  # company, l33t
        ("Jdoe1987!Kettle-Fjord", ["contains_personal_info"]),  # email local part
        ("Kettle-1987-Fjord!x", ["contains_personal_info"]),  # digits of the email
        ("Kettle-Example-Fjord-93", ["contains_personal_info"]),  # a label of the email domain
        ("Kettle-Doesnt-Fjord-93", []),  # "doe" inside a longer word
        ("Compass-Kettle-Com-Fjord-93", []),  # "com" is the top-level domain, not the user
        ("Gmbh-Kettle-Fjord-93", []),  # a legal form says nothing about the user
        ("P@ssJane2024", ["contains_personal_info", "common_password"]),
    ],
)
def test_personal_information(password, expected):
    assert check_password(password, DEFAULT, personal=JANE) == expected


def test_short_name_fragments_are_ignored_and_personal_info_is_per_call():
    assert check_password("Kettle!Jane-Fjord-93", DEFAULT, personal=("Jo Li", "jo@li.io")) == []
    assert check_password("Kettle-Info-Fjord-93", DEFAULT, personal=("jo@li.info",)) == []
    assert check_password("Kettle!Jane-Fjord-93", DEFAULT, personal=JANE) == ["contains_personal_info"]
    # the previous user's name does not linger in the estimator's dictionaries
    assert check_password("Kettle!Jane-Fjord-93", DEFAULT, personal=("John Smith",)) == []
    assert check_password("Kettle!Jane-Fjord-93", DEFAULT) == []


def test_three_letter_names_count_only_as_their_own_word():
    ann = ("Ann Li",)
    assert check_password("Ann-1984!Kettle", DEFAULT, personal=ann) == ["contains_personal_info"]
    assert check_password("Annual-Report-Tiger-7", DEFAULT, personal=ann) == []


# --- length in code points -------------------------------------------------------------------


def test_emoji_and_cjk_count_one_code_point_each():
    assert check_password("Kx9!mP2#vL7🔒", DEFAULT) == []  # 12 code points, 15 UTF-16 units, 15 UTF-8 bytes
    assert check_password("Kx9!mP2#vL🔒", DEFAULT) == ["too_short"]
    assert check_password("密码Kx9!mP2#vL", DEFAULT) == []
    # a ZWJ sequence is one picture but three code points; the policy counts code points
    assert check_password("Kx9!mP2#v👩\u200d💻", DEFAULT) == []


def test_length_is_counted_after_nfc_normalisation():
    decomposed = "Cafe\u0301-Kx9!mP"  # 12 code points as typed, 11 once "é" is composed
    assert len(decomposed) == 12
    assert len(unicodedata.normalize("NFC", decomposed)) == 11
    assert check_password(decomposed, DEFAULT) == ["too_short"]
    assert check_password(decomposed + "7", DEFAULT) == []

    at_limit = ("Fjörd-Tündra-Mésa-42!" * 7)[:MAX_LENGTH]
    typed = unicodedata.normalize("NFD", at_limit)  # each umlaut or accent as letter + combining mark
    assert len(at_limit) == MAX_LENGTH < len(typed)
    assert "too_long" not in check_password(typed, DEFAULT)
    assert "too_long" in check_password(typed + "x", DEFAULT)


def test_huge_password_gets_only_the_cheap_reasons():
    # a guessability check would add repeated_characters; above the limit it never runs
    assert check_password("Aa1!" * 2500, DEFAULT) == ["too_long"]
    assert check_password("a" * 10_000, DEFAULT) == [
        "too_long",
        "missing_uppercase",
        "missing_digit",
        "missing_special",
    ]
    assert check_password("Aa1!" * 32 + "x", DEFAULT) == ["too_long"]


def test_just_at_the_limit_is_still_checked_for_guessable_content():
    assert check_password("Aa1!" * 32, DEFAULT) == ["repeated_characters"]


# --- policy toggles ------------------------------------------------------------------------------


def test_composition_requirements_can_be_switched_off():
    relaxed = PasswordPolicy(
        require_lowercase=False, require_uppercase=False, require_digit=False, require_special=False
    )
    assert check_password("vividharborquartzlantern", relaxed) == []
    assert check_password("VIVIDHARBORQUARTZLANTERN", relaxed) == []
    assert check_password("vividharborquartzlantern", DEFAULT) == [
        "missing_uppercase",
        "missing_digit",
        "missing_special",
    ]


@pytest.mark.parametrize(
    ("field", "password", "reason"),
    [
        ("require_lowercase", "VIVID-HARBOR-QUARTZ-42", "missing_lowercase"),
        ("require_uppercase", "vivid-harbor-quartz-42", "missing_uppercase"),
        ("require_digit", "Vivid-Harbor-Quartz-Lantern", "missing_digit"),
        ("require_special", "VividHarborQuartzLantern42", "missing_special"),
    ],
)
def test_each_requirement_is_its_own_switch(field, password, reason):
    assert check_password(password, DEFAULT) == [reason]
    assert check_password(password, PasswordPolicy(**{field: False})) == []


def test_guessable_content_can_be_switched_off():
    lenient = PasswordPolicy(reject_guessable=False)
    for password in ("P@ssw0rd!2024", "Qwer!Harbor-Kettle-7", "Harbor-Kettle!aaa7", "Rodriguez#2024"):
        assert check_password(password, DEFAULT) != []
        assert check_password(password, lenient) == []
    assert check_password("Kettle!Jane-Fjord-93", lenient, personal=JANE) == []
    assert check_password("Password1!", lenient) == ["too_short"]


def test_min_length_16():
    long_policy = PasswordPolicy(min_length=16)
    assert check_password("Kx9!mP2#vL7q", long_policy) == ["too_short"]
    assert check_password("Kx9!mP2#vL7q-Fjo", long_policy) == []
    assert check_password("Kx9!mP2#", PasswordPolicy(min_length=8)) == []


# --- strictest -----------------------------------------------------------------------------------


def test_strictest_of_nothing_is_the_default():
    assert PasswordPolicy.strictest([]) == PasswordPolicy()
    assert PasswordPolicy.strictest(iter(())) == PasswordPolicy()


def test_strictest_of_one_is_that_policy():
    one = PasswordPolicy(min_length=9, require_special=False, max_age_days=0, history=0, reject_guessable=False)
    assert PasswordPolicy.strictest([one]) == one


def test_strictest_takes_every_rule_at_its_strictest():
    loose = PasswordPolicy(
        min_length=20,
        require_lowercase=False,
        require_uppercase=True,
        require_digit=False,
        require_special=False,
        max_age_days=365,
        history=2,
        reject_guessable=False,
    )
    other = PasswordPolicy(
        min_length=10,
        require_lowercase=False,
        require_uppercase=False,
        require_digit=True,
        require_special=False,
        max_age_days=30,
        history=12,
        reject_guessable=True,
    )
    merged = PasswordPolicy.strictest([loose, other])
    assert merged == PasswordPolicy(
        min_length=20,
        require_lowercase=False,
        require_uppercase=True,
        require_digit=True,
        require_special=False,
        max_age_days=30,
        history=12,
        reject_guessable=True,
    )
    assert PasswordPolicy.strictest([other, loose]) == merged


@pytest.mark.parametrize(
    ("ages", "expected"),
    [
        ([90, 30], 30),
        ([0, 90], 90),  # "never" is the loosest setting, not the smallest number
        ([365, 0, 30], 30),
        ([0, 0], 0),
        ([0], 0),
    ],
)
def test_strictest_max_age(ages, expected):
    policies = [PasswordPolicy(max_age_days=age) for age in ages]
    assert PasswordPolicy.strictest(policies).max_age_days == expected


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"min_length": 7},
        {"min_length": 200},
        {"min_length": 129},
        {"max_age_days": -1},
        {"max_age_days": 3651},
        {"history": -1},
        {"history": 25},
        {"expires": True},  # unknown field
        {"min_length": "twelve"},
    ],
)
def test_out_of_bounds_policies_are_rejected(fields):
    with pytest.raises(ValidationError):
        PasswordPolicy(**fields)


def test_bounds_are_inclusive_and_the_contract_shape_validates():
    assert PasswordPolicy(min_length=8).min_length == 8
    assert PasswordPolicy(min_length=MAX_LENGTH).min_length == MAX_LENGTH
    assert PasswordPolicy(max_age_days=0, history=0).history == 0
    assert PasswordPolicy(max_age_days=3650, history=24).max_age_days == 3650
    body = {
        "min_length": 14,
        "require_lowercase": True,
        "require_uppercase": True,
        "require_digit": True,
        "require_special": False,
        "max_age_days": 0,
        "history": 10,
        "reject_guessable": True,
    }
    assert PasswordPolicy.model_validate(body).model_dump() == body


def test_policies_are_frozen():
    policy = PasswordPolicy()
    with pytest.raises(ValidationError):
        policy.min_length = 8  # type: ignore[misc]


def test_defaults_match_the_contract():
    assert PasswordPolicy().model_dump() == {
        "min_length": 12,
        "require_lowercase": True,
        "require_uppercase": True,
        "require_digit": True,
        "require_special": True,
        "max_age_days": 90,
        "history": 5,
        "reject_guessable": True,
    }


# --- cold path -----------------------------------------------------------------------------------


def test_the_estimator_is_loaded_only_when_guessability_is_checked():
    script = (
        "import sys\n"
        "from portico.security.policy import PasswordPolicy, check_password\n"
        "assert 'zxcvbn' not in sys.modules, 'imported with the module'\n"
        "check_password('Kx9!mP2#vL7q', PasswordPolicy(reject_guessable=False))\n"
        "assert 'zxcvbn' not in sys.modules, 'imported without reject_guessable'\n"
        "check_password('Kx9!mP2#vL7q', PasswordPolicy())\n"
        "assert 'zxcvbn' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env={"PYTHONPATH": str(LAYER)}, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
