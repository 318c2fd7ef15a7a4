"""Password policy: an account's password rules (``PasswordPolicy``) and the check that names every
rule a password breaks.

A pure module: no I/O, no clock, no AWS; zxcvbn's lists load on the first guessability check.
``check_password`` returns the reason codes in ``REASONS`` order; ``require_strong`` raises
``422 weak_password`` with them. ``reused`` is checked against stored hashes by
:mod:`portico.auth.passwords`. Why the rules and thresholds are what they are, and which parts of
zxcvbn this module replaces: ``docs/password-policy.md``.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise
from math import factorial
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from portico.errors import WeakPassword

MAX_LENGTH = 128
"""Hard upper bound on a password's length, in code points after NFC normalisation."""

REASONS: tuple[str, ...] = (
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
"""Every reason code of the API (``weak_password``'s ``reasons``), in the order ``check_password`` reports them."""

SAFE_GUESSES = 10**10
"""Estimated guesses at or above which words and common passwords in a password are tolerated."""

COMMON_SHARE = 0.5
"""Share of the password covered by common passwords that is rejected whatever the estimate."""

PATTERN_LENGTH = 4
"""Shortest word, sequence, keyboard run or repeated block that counts as guessable content."""

MAX_RUN = 2
"""Longest run of one character that is allowed ("aa" yes, "aaa" no)."""

_PERSONAL_MIN = 3  # shorter fragments of name/email/company are ignored
_GENERIC_FRAGMENTS = frozenset({"inc", "ltd", "llc", "plc", "gmbh", "corp", "the", "and", "und", "www"})
_WORD_DICTIONARIES = ("english_wikipedia", "us_tv_and_film", "surnames", "male_names", "female_names")
_COMMON_DICTIONARY = "passwords"
_PERSONAL_DICTIONARY = "user_inputs"
_FRAGMENT_RE = re.compile(r"[^\W\d_]+|\d+")  # runs of letters, runs of digits
_RUN_RE = re.compile(r"(.)" + r"\1" * MAX_RUN, re.DOTALL)  # one character MAX_RUN + 1 times


class PasswordPolicy(BaseModel):
    """An account's password rules (``password_policy`` in an account's security settings)."""

    # Strict like every request body it is part of (PUT /accounts/{a}/security): "8" is not 8.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    min_length: int = Field(12, ge=8, le=MAX_LENGTH)
    require_lowercase: bool = True
    require_uppercase: bool = True
    require_digit: bool = True
    require_special: bool = True
    max_age_days: int = Field(90, ge=0, le=3650, description="0 = the password never expires")
    history: int = Field(5, ge=0, le=24, description="previous passwords that may not be reused")
    reject_guessable: bool = True

    @classmethod
    def strictest(cls, policies: Iterable[PasswordPolicy]) -> PasswordPolicy:
        """The policy for a user in several accounts: every rule at its strictest; defaults if none."""
        merged = list(policies)
        if not merged:
            return cls()
        return cls(
            min_length=max(p.min_length for p in merged),
            require_lowercase=any(p.require_lowercase for p in merged),
            require_uppercase=any(p.require_uppercase for p in merged),
            require_digit=any(p.require_digit for p in merged),
            require_special=any(p.require_special for p in merged),
            # 0 means "never expires", the loosest setting: it wins only if every account has it
            max_age_days=min((p.max_age_days for p in merged if p.max_age_days > 0), default=0),
            history=max(p.history for p in merged),
            reject_guessable=any(p.reject_guessable for p in merged),
        )


def require_strong(password: str, policy: PasswordPolicy, *, personal: Sequence[str] = ()) -> None:
    """``422 weak_password`` with every broken rule, unless ``password`` passes ``policy``."""
    reasons = check_password(password, policy, personal=personal)
    if reasons:
        raise WeakPassword(reasons)


def check_password(password: str, policy: PasswordPolicy, *, personal: Sequence[str] = ()) -> list[str]:
    """Every rule ``password`` breaks, as the API's reason codes in ``REASONS`` order; [] when it passes.

    ``personal`` holds what the user is known by: name, email, company name.
    """
    password = unicodedata.normalize("NFC", password)
    broken: set[str] = set()
    if len(password) < policy.min_length:
        broken.add("too_short")
    if len(password) > MAX_LENGTH:
        broken.add("too_long")
    if policy.require_lowercase and not any(ch.islower() for ch in password):
        broken.add("missing_lowercase")
    if policy.require_uppercase and not any(ch.isupper() for ch in password):
        broken.add("missing_uppercase")
    if policy.require_digit and not any(ch.isdigit() for ch in password):
        broken.add("missing_digit")
    if policy.require_special and all(ch.isalnum() for ch in password):
        broken.add("missing_special")
    if policy.reject_guessable and 0 < len(password) <= MAX_LENGTH:
        broken |= _guessable(password, _personal_fragments(personal))
    return [reason for reason in REASONS if reason in broken]


# --- personal fragments ------------------------------------------------------------------------


def _personal_fragments(personal: Sequence[str]) -> list[str]:
    """Lowercased fragments of name, email and company, most specific first, without duplicates."""
    fragments: list[str] = []
    for value in personal:
        if not value:
            continue
        value = unicodedata.normalize("NFC", value).strip().lower()
        if "@" in value:
            local, _, domain = value.rpartition("@")
            parts = [local, *_FRAGMENT_RE.findall(local)]
            for label in domain.split(".")[:-1]:  # the top-level domain says nothing about the user
                parts += [label, *_FRAGMENT_RE.findall(label)]
        else:
            parts = _FRAGMENT_RE.findall(value)
        for part in parts:
            if len(part) >= _PERSONAL_MIN and part not in _GENERIC_FRAGMENTS and part not in fragments:
                fragments.append(part)
    return fragments


# --- checks that need no estimator -------------------------------------------------------------


def _fold(password: str) -> str:
    """Lowercase character by character, keeping indexes aligned with ``password``."""
    return "".join(low if len(low := ch.lower()) == 1 else ch for ch in password)


def _has_step_sequence(folded: str) -> bool:
    """``PATTERN_LENGTH`` characters in a row whose code points step by +1 or by -1."""
    run, step = 1, 0
    for previous, current in pairwise(folded):
        delta = ord(current) - ord(previous)
        if abs(delta) == 1:
            run = run + 1 if delta == step else 2
            step = delta
            if run >= PATTERN_LENGTH:
                return True
        else:
            run, step = 1, 0
    return False


# --- matching with zxcvbn's data ---------------------------------------------------------------

Match = dict[str, Any]
_REPEAT_RES = (re.compile(r"(.+)\1+"), re.compile(r"(.+?)\1+"), re.compile(r"^(.+?)\1+$"))


class _Zxcvbn(NamedTuple):
    matching: Any
    scoring: Any
    dictionaries: dict[str, dict[str, int]]  # name -> word -> rank (1 = commonest)
    words: list[str]  # every word of every dictionary, sorted, for prefix search
    longest: int
    unleet: dict[str, tuple[str, ...]]  # "4" -> ("a",), "1" -> ("i", "l")


@lru_cache(maxsize=1)
def _zxcvbn() -> _Zxcvbn:
    """zxcvbn's modules and static dictionaries, loaded once per container on the first check."""
    # heavy (about 70 ms with the tables below): only the routes that set a password pay for it
    from zxcvbn import matching, scoring

    dictionaries = {name: matching.RANKED_DICTIONARIES[name] for name in (*_WORD_DICTIONARIES, _COMMON_DICTIONARY)}
    words = sorted({word for ranked in dictionaries.values() for word in ranked})
    unleet: dict[str, tuple[str, ...]] = {}
    for letter, substitutes in matching.L33T_TABLE.items():
        for substitute in substitutes:
            unleet[substitute] = (*unleet.get(substitute, ()), letter)
    return _Zxcvbn(matching, scoring, dictionaries, words, max(map(len, words)), unleet)


class _Matcher:
    """zxcvbn's matches of a password against the static dictionaries and the user's own words."""

    def __init__(self, personal: list[str]) -> None:
        self.data = _zxcvbn()
        user = {fragment: rank for rank, fragment in enumerate(personal, 1)}
        self.dictionaries = {**self.data.dictionaries, _PERSONAL_DICTIONARY: user}
        self.user_words = sorted(user)
        self.longest = max([self.data.longest, *map(len, user)])

    def omnimatch(self, password: str) -> list[Match]:
        matching = self.data.matching
        return [
            *self.dictionary(password),
            *self.reversed_dictionary(password),
            *self.leet(password),
            *matching.spatial_match(password),
            *self.repeat(password),
            *matching.sequence_match(password),
            *matching.regex_match(password),
            *matching.date_match(password),
        ]

    def dictionary(self, password: str, names: Iterable[str] | None = None) -> Iterator[Match]:
        """Case-insensitive dictionary words in ``password``; no word is longer than ``self.longest``."""
        folded = _fold(password)
        selected = [(name, self.dictionaries[name]) for name in (names or self.dictionaries)]
        for i in range(len(password)):
            for j in range(i, min(len(password), i + self.longest)):
                word = folded[i : j + 1]
                for name, ranked in selected:
                    if (rank := ranked.get(word)) is not None:
                        yield _word_match(password, i, j, word, rank, name)

    def reversed_dictionary(self, password: str) -> Iterator[Match]:
        last = len(password) - 1
        for match in self.dictionary(password[::-1]):
            match["token"] = match["token"][::-1]
            match["reversed"] = True
            match["i"], match["j"] = last - match["j"], last - match["i"]
            yield match

    def _is_prefix(self, prefix: str) -> bool:
        for words in (self.data.words, self.user_words):
            at = bisect_left(words, prefix)
            if at < len(words) and words[at].startswith(prefix):
                return True
        return False

    def leet(self, password: str) -> Iterator[Match]:
        """Words written with l33t substitutions ("p@ssw0rd"), depth-first from each position.

        Like zxcvbn's substitution tables, a symbol stands for one letter throughout a token; unlike
        them, the search stops as soon as no dictionary word starts with what has been read.
        """
        folded, unleet = _fold(password), self.data.unleet
        if not any(ch in unleet for ch in folded):
            return
        for i in range(len(folded)):
            stack: list[tuple[int, str, dict[str, str]]] = [(i, "", {})]
            while stack:
                j, prefix, sub = stack.pop()
                if j >= len(folded) or j - i >= self.longest:
                    continue
                ch = folded[j]
                for letter in (sub[ch],) if ch in sub else (ch, *unleet.get(ch, ())):
                    word = prefix + letter
                    if not self._is_prefix(word):
                        continue
                    chosen = {**sub, ch: letter} if ch in unleet and ch not in sub else sub
                    used = {symbol: letter for symbol, letter in chosen.items() if symbol != letter}
                    if used and len(word) > 1:
                        for name, ranked in self.dictionaries.items():
                            if (rank := ranked.get(word)) is not None:
                                match = _word_match(password, i, j, word, rank, name)
                                match.update(
                                    l33t=True,
                                    sub=used,
                                    sub_display=", ".join(f"{k} -> {v}" for k, v in used.items()),
                                )
                                yield match
                    stack.append((j + 1, word, chosen))

    def repeat(self, password: str) -> list[Match]:
        """zxcvbn's repeat matcher, case-insensitive ("HaHa"), the block rated by ``weakest``."""
        greedy, lazy, lazy_anchored = _REPEAT_RES
        folded = _fold(password)
        matches: list[Match] = []
        last_index = 0
        while last_index < len(folded):
            greedy_match = greedy.search(folded, pos=last_index)
            lazy_match = lazy.search(folded, pos=last_index)
            if not greedy_match or not lazy_match:
                break
            if len(greedy_match.group(0)) > len(lazy_match.group(0)):
                # "aabaab": the greedy match is longer; its shortest repeated unit is the block
                match = greedy_match
                anchored = lazy_anchored.search(match.group(0))
                block = anchored.group(1) if anchored else match.group(1)
            else:
                match = lazy_match
                block = match.group(1)
            i, j = match.start(), match.end() - 1
            guesses, parts = self.weakest(block)
            matches.append(
                {
                    "pattern": "repeat",
                    "i": i,
                    "j": j,
                    "token": password[i : j + 1],
                    "base_token": block,
                    "base_guesses": Decimal(guesses),
                    "base_matches": parts,
                    "repeat_count": len(match.group(0)) / len(block),
                }
            )
            last_index = j + 1
        return matches

    def weakest(self, password: str, matches: list[Match] | None = None) -> tuple[float, list[Match]]:
        """zxcvbn's guess estimate for ``password`` and the parts it is made of, when under ``SAFE_GUESSES``.

        zxcvbn rates a split into l parts at l! x (product of the parts' guesses) + (10^4)^(l-1) and
        takes the cheapest split. A split into more than ``max_parts`` (3) parts costs at least
        ``SAFE_GUESSES`` from the second term alone, and so does a split with a part rated at
        ``SAFE_GUESSES`` or more; an exhaustive search over the other splits therefore finds the
        minimum whenever it is below the threshold (never above zxcvbn's own answer, which prunes
        heuristically), in linear time instead of zxcvbn's quadratic search in Decimal arithmetic.
        Returns (guesses, parts), or (``SAFE_GUESSES``, []) when no split is cheaper.
        """
        scoring = self.data.scoring
        n = len(password)
        if matches is None:
            matches = self.omnimatch(password)
        growth = scoring.MIN_GUESSES_BEFORE_GROWING_SEQUENCE
        max_parts = 1
        while growth**max_parts < SAFE_GUESSES:
            max_parts += 1

        ending: list[list[tuple[float, Match]]] = [[] for _ in range(n)]
        for match in matches:
            if (guesses := float(scoring.estimate_guesses(match, password))) < SAFE_GUESSES:
                ending[match["j"]].append((guesses, match))
        for j in range(n):
            for i in range(j, -1, -1):
                brute: Match = {"pattern": "bruteforce", "token": password[i : j + 1], "i": i, "j": j}
                if (guesses := float(scoring.estimate_guesses(brute, password))) >= SAFE_GUESSES:
                    break  # longer spans only cost more
                ending[j].append((guesses, brute))

        # cheapest[l][j]: (product of the parts' guesses, last part) of the cheapest l-part split of password[: j + 1]
        cheapest: list[list[tuple[float, Match] | None]] = [[None] * n for _ in range(max_parts + 1)]
        for parts in range(1, max_parts + 1):
            for j in range(n):
                for guesses, match in ending[j]:
                    i = match["i"]
                    if parts == 1:
                        product = guesses if i == 0 else None
                    else:
                        before = cheapest[parts - 1][i - 1] if i > 0 else None
                        product = before[0] * guesses if before else None
                    current = cheapest[parts][j]
                    if product is not None and (current is None or product < current[0]):
                        cheapest[parts][j] = (product, match)

        best_guesses, best_parts = float(SAFE_GUESSES), 0
        for parts in range(1, max_parts + 1):
            if (found := cheapest[parts][n - 1]) is not None:
                guesses = factorial(parts) * found[0] + growth ** (parts - 1)
                if guesses < best_guesses:
                    best_guesses, best_parts = guesses, parts
        sequence: list[Match] = []
        j = n - 1
        for parts in range(best_parts, 0, -1):
            found = cheapest[parts][j]
            assert found is not None  # each part was reached from the one before it
            sequence.insert(0, found[1])
            j = found[1]["i"] - 1
        return best_guesses, sequence


def _word_match(password: str, i: int, j: int, word: str, rank: int, dictionary_name: str) -> Match:
    return {
        "pattern": "dictionary",
        "i": i,
        "j": j,
        "token": password[i : j + 1],
        "matched_word": word,
        "rank": rank,
        "dictionary_name": dictionary_name,
        "reversed": False,
        "l33t": False,
    }


def _length(match: Match) -> int:
    return int(match["j"] - match["i"] + 1)


# --- the guessability verdict ------------------------------------------------------------------


def _guessable(password: str, personal: list[str]) -> set[str]:
    broken: set[str] = set()
    folded = _fold(password)
    if _RUN_RE.search(folded):
        broken.add("repeated_characters")
    if _has_step_sequence(folded):
        broken.add("sequence")

    matcher = _Matcher(personal)
    matches = matcher.omnimatch(password)
    for match in matches:
        kind, length, i, j = match["pattern"], _length(match), match["i"], match["j"]
        if kind == "dictionary" and match["dictionary_name"] == _PERSONAL_DICTIONARY:
            if length > _PERSONAL_MIN or (_starts_word(password, i) and _ends_word(password, j)):
                broken.add("contains_personal_info")
        elif kind == "spatial" and length >= PATTERN_LENGTH and match["turns"] == 1 and _starts_word(password, i):
            broken.add("sequence")
        elif (
            kind == "repeat"
            and length >= PATTERN_LENGTH
            and (not match["token"].isalpha() or (_starts_word(password, i) and _ends_word(password, j)))
        ):
            broken.add("repeated_characters")

    longest_common = max(
        (_length(m) for m in matches if m["pattern"] == "dictionary" and m["dictionary_name"] == _COMMON_DICTIONARY),
        default=0,
    )
    for stripped, positions in _stripped_variants(password):
        for m in matcher.dictionary(stripped, (_COMMON_DICTIONARY,)):
            longest_common = max(longest_common, positions[m["j"]] - positions[m["i"]] + 1)
    if longest_common >= max(PATTERN_LENGTH, COMMON_SHARE * len(password)):
        broken.add("common_password")

    guesses, parts = matcher.weakest(password, matches)
    if guesses < SAFE_GUESSES:
        for match in _flatten(parts):
            if match["pattern"] != "dictionary" or _length(match) < PATTERN_LENGTH:
                continue
            if match["dictionary_name"] == _COMMON_DICTIONARY:
                broken.add("common_password")
            elif match["dictionary_name"] in _WORD_DICTIONARIES:
                broken.add("dictionary_word")
    return broken


def _flatten(parts: list[Match]) -> Iterator[Match]:
    """The parts of a split, and the parts of each repeated block in it ("Welcome1!Welcome1!")."""
    for match in parts:
        yield match
        if match["pattern"] == "repeat":
            yield from _flatten(match["base_matches"])


def _starts_word(password: str, i: int) -> bool:
    """Whether ``password[i]`` is not inside a word: "Qwer" in "Harbor-Qwer" or "HarborQwer", not in "liberty"."""
    if i == 0 or not password[i].isalpha() or not password[i - 1].isalpha():
        return True
    return password[i - 1].islower() and password[i].isupper()


def _ends_word(password: str, j: int) -> bool:
    if j == len(password) - 1 or not password[j].isalpha() or not password[j + 1].isalpha():
        return True
    return password[j].islower() and password[j + 1].isupper()


def _stripped_variants(password: str) -> Iterator[tuple[str, list[int]]]:
    """The password without symbols, and with letters only, each with the original index of every character."""
    for keep in (str.isalnum, str.isalpha):
        positions = [k for k, ch in enumerate(password) if keep(ch)]
        if 0 < len(positions) < len(password):
            yield "".join(password[k] for k in positions), positions
