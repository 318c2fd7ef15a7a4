"""The rights rules, as pure functions."""

from __future__ import annotations

import pytest

from portico.accounts.records import Account, Membership
from portico.accounts.rights import (
    CATALOG,
    Right,
    RightUnavailable,
    allows,
    catalog,
    check_grant,
    compose,
    manages_users,
    unavailable,
)
from portico.errors import Forbidden


def account(**fields) -> Account:
    return Account(account_id="acc_x", name="X", **fields)


def member(**fields) -> Membership:
    return Membership(account_id="acc_x", user_id="usr_x", email="x@example.com", **fields)


TEST_ACCOUNT = account(mode="test")
LIVE_WITH_PAYOUTS = account(mode="live", payouts_enabled=True)


def test_catalog_names_every_right_once_with_its_rule():
    shown = {r.id: r.model_dump() for r in catalog()}
    assert list(shown) == [r.value for r in Right] == [info.id.value for info in CATALOG]
    assert shown["data:edit"]["requires"] == ["data:view"]
    assert shown["payouts"]["constraint"] == "payouts_enabled"
    assert shown["sync"]["constraint"] == "live_account"
    assert all(r["name"] and r["description"] for r in shown.values())


def test_edit_brings_view():
    assert compose([Right.DATA_EDIT], TEST_ACCOUNT) == ["data:edit", "data:view"]
    assert compose([Right.DATA_EDIT, Right.DATA_VIEW, Right.DATA_EDIT], TEST_ACCOUNT) == ["data:edit", "data:view"]
    assert compose([], TEST_ACCOUNT) == []


@pytest.mark.parametrize(
    ("right", "account", "needs"),
    [
        (Right.PAYOUTS, account(mode="live"), "payouts"),
        (Right.PAYOUTS, account(mode="test", payouts_enabled=False), "payouts"),
        (Right.SYNC, account(mode="test", payouts_enabled=True), "live"),
    ],
)
def test_constrained_rights_are_unavailable_where_the_account_lacks_them(right, account, needs):
    with pytest.raises(RightUnavailable) as raised:
        compose([Right.REPORTS, right], account)
    assert raised.value.status == 422 and raised.value.code == "right_unavailable"
    assert needs in str(raised.value.detail)


def test_constrained_rights_are_granted_where_the_account_has_them():
    assert compose([Right.PAYOUTS, Right.SYNC], LIVE_WITH_PAYOUTS) == ["payouts", "sync"]
    assert unavailable(Right.USERS, TEST_ACCOUNT) is None


def test_full_access_grants_every_right_present_and_future():
    assert all(allows(member(full_access=True), right) for right in Right)
    assert not allows(member(full_access=False, rights=("data:view",)), Right.DATA_EDIT)
    assert allows(member(rights=("data:view",)), Right.DATA_VIEW)


def test_who_counts_as_a_user_manager():
    assert manages_users(member(status="active", rights=("users",)))
    assert manages_users(member(status="active", full_access=True))
    assert not manages_users(member(status="disabled", full_access=True))
    assert not manages_users(member(status="invited", rights=("users",)))
    assert not manages_users(member(status="active", rights=("data:view",)))


def test_a_granter_hands_out_only_what_they_hold():
    admin = member(full_access=True)
    manager = member(rights=("users", "reports"))
    check_grant(admin, True, ["sync"])
    check_grant(manager, False, ["users", "reports"])
    with pytest.raises(Forbidden):
        check_grant(manager, True, [])
    with pytest.raises(Forbidden) as raised:
        check_grant(manager, False, ["reports", "settings"])
    assert "settings" in str(raised.value.detail) and "reports" not in str(raised.value.detail)
