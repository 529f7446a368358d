"""Identity rules, without a database."""

from __future__ import annotations

import pytest

from identity_svc.domain import (
    Consents,
    RoleGrant,
    RuleBroken,
    change_consents,
    check_password,
    check_role_grant,
    display_name_from_x,
    initial_consents,
    normalise_display_name,
    normalise_email,
)

pytestmark = pytest.mark.unit


def test_email_is_trimmed_and_checked() -> None:
    assert normalise_email("  sam@example.org ") == "sam@example.org"
    for bad in ("", "sam", "sam@", "@example.org", "sam@example", "sa m@example.org", "a@b@example.org"):
        with pytest.raises(RuleBroken) as err:
            normalise_email(bad)
        assert err.value.field == "email"


def test_email_longer_than_254_characters_is_refused() -> None:
    with pytest.raises(RuleBroken, match="254"):
        normalise_email("a" * 64 + "@" + "b" * 186 + ".org")


def test_display_name_collapses_spaces_and_refuses_invisible_characters() -> None:
    assert normalise_display_name("  Sam   Patel ") == "Sam Patel"
    for bad in ("", "   ", "x" * 81, "Sam\u202ePatel", "Sam\x00"):
        with pytest.raises(RuleBroken):
            normalise_display_name(bad)


def test_password_needs_twelve_characters() -> None:
    check_password("x" * 12)
    with pytest.raises(RuleBroken):
        check_password("x" * 11)


def test_terms_must_be_accepted_to_register() -> None:
    with pytest.raises(RuleBroken) as err:
        initial_consents(terms=False, discoverable=True, contact_by_x=False)
    assert err.value.field == "consents.terms"


def test_consents_change_partially_but_terms_cannot_be_withdrawn() -> None:
    current = Consents(terms=True, discoverable=False, contact_by_x=False)
    assert change_consents(current, {"discoverable": True}) == Consents(True, True, False)
    assert change_consents(current, {"terms": True}) == current
    with pytest.raises(RuleBroken):
        change_consents(current, {"terms": False})


def test_terms_pending_since_an_x_sign_in_can_be_given_later() -> None:
    pending = Consents(terms=False, discoverable=False, contact_by_x=False)
    assert change_consents(pending, {"terms": True, "discoverable": True}) == Consents(True, True, False)
    assert change_consents(pending, {"discoverable": True}) == Consents(False, True, False)
    assert change_consents(pending, {"terms": False}) == pending


def test_display_names_from_x_are_cleaned_cut_or_replaced_by_the_handle() -> None:
    assert display_name_from_x("  Sam \t Patel\u200b ", "sam") == "Sam Patel"
    assert display_name_from_x("S" * 200, "sam") == "S" * 80
    assert display_name_from_x(" \u200e\x07 ", "sam_p") == "sam_p"


def test_organiser_role_needs_a_real_constituency() -> None:
    assert check_role_grant("organiser", "E14001354") == RoleGrant("organiser", "E14001354")
    with pytest.raises(RuleBroken):
        check_role_grant("organiser", None)
    with pytest.raises(RuleBroken):
        check_role_grant("organiser", "E99999999")


def test_admin_role_takes_no_constituency_and_other_roles_do_not_exist() -> None:
    assert check_role_grant("admin", None) == RoleGrant("admin")
    with pytest.raises(RuleBroken):
        check_role_grant("admin", "E14001354")
    with pytest.raises(RuleBroken):
        check_role_grant("supporter", None)
