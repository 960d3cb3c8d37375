"""Card replacement: a new card for the same cardholder on the same BIN with the old
card's limits, the balance moved by a ledger entry on each, the old card closed, both
linked; shown once through the API and the admin; money that comes back later follows it."""

import pytest
from django.urls import reverse

from cards import pan as card_data
from cards.models import Card, LedgerEntry
from cards.services import card_change_status, card_credentials, card_replace, ledger_mismatches
from cardsystem.exceptions import ConflictError
from cardsystem.models import AuditLog
from tests.authorizing import authorize
from tests.cards.api_requests import CARDS, post, written
from tests.factories import TEST_ACTOR, BinFactory, CardFactory
from transactions.services import authorization_reverse

pytestmark = pytest.mark.django_db
Status = Card.Status
LIMITS = {"per_transaction": 50_000, "daily": 100_000, "monthly": 300_000}


@pytest.fixture
def card():
    return CardFactory(balance_minor=12_345, limits=LIMITS)


def replace_url(card) -> str:
    return f"{CARDS}{card.pk}/replace/"


def balances(*cards) -> list[int]:
    return [Card.objects.get(pk=c.pk).balance_minor for c in cards]


# --- The service --------------------------------------------------------------------------------


def test_the_new_card_takes_the_cardholder_bin_limits_and_balance_and_the_old_is_closed(card):
    issued = card_replace(card=card, reason="Compromised at a skimmer.", actor=TEST_ACTOR)
    new = Card.objects.get(pk=issued.card.pk)
    card.refresh_from_db()

    assert (new.cardholder_id, new.bin_id, new.currency) == (card.cardholder_id, card.bin_id, card.currency)
    assert (new.limit_per_transaction_minor, new.limit_daily_minor, new.limit_monthly_minor) == (
        50_000,
        100_000,
        300_000,
    )
    assert new.status == Status.ACTIVE and card.status == Status.CLOSED
    assert card.status_reason == "Replaced: Compromised at a skimmer."
    assert balances(card, new) == [0, 12_345]
    assert new.replaces == card and card.replaced_by == new
    assert issued.pan != card.pan and issued.pan.startswith(card.bin.bin)
    assert card_credentials(new).cvv == issued.cvv
    moves = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REPLACEMENT).order_by("amount_minor")
    assert [(e.card_id, e.amount_minor, e.balance_after_minor) for e in moves] == [
        (card.pk, -12_345, 0),
        (new.pk, 12_345, 12_345),
    ]
    assert not ledger_mismatches().exists()


def test_a_replacement_is_audited_as_closing_replacing_and_issuing(card):
    issued = card_replace(card=card, reason="Lost in a taxi.", actor=TEST_ACTOR)

    rows = AuditLog.objects.filter(action__in=["card.status_changed", "card.replaced", "card.issued"])
    by_action = {(r.action, r.target_id): r.details for r in rows}
    assert by_action[("card.status_changed", str(card.pk))]["to"] == "closed"
    assert by_action[("card.replaced", str(card.pk))] == {
        "replaced_by": str(issued.card.pk),
        "reason": "Lost in a taxi.",
        "balance_moved_minor": 12_345,
        "currency": "USD",
    }
    assert by_action[("card.issued", str(issued.card.pk))]["replaces"] == str(card.pk)


def test_a_card_with_no_money_moves_none_and_a_never_activated_card_is_replaced_inactive():
    stock = CardFactory()
    card_change_status(
        card=stock, status=Status.INACTIVE, reason="Not yet with its holder.", actor=TEST_ACTOR
    )

    issued = card_replace(card=stock, reason="Damaged in the post.", actor=TEST_ACTOR)

    assert issued.card.status == Status.INACTIVE and issued.card.balance_minor == 0
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REPLACEMENT).exists()


@pytest.mark.parametrize("status", [Status.BLOCKED, Status.LOST, Status.STOLEN, Status.EXPIRED])
def test_a_blocked_lost_stolen_or_expired_card_is_replaced_by_an_active_one(card, status):
    card_change_status(card=card, status=status, reason="As it happened.", actor=TEST_ACTOR)

    issued = card_replace(card=card, reason="Replace it.", actor=TEST_ACTOR)

    assert issued.card.status == Status.ACTIVE and balances(card, issued.card) == [0, 12_345]


def test_a_closed_card_a_bad_reason_or_an_inactive_bin_changes_nothing(card):
    before = written()
    with pytest.raises(ConflictError):
        card_change_status(card=card, status=Status.CLOSED, reason="Done.", actor=TEST_ACTOR)
        card_replace(card=card, reason="Again.", actor=TEST_ACTOR)
    closed = written()
    with pytest.raises(ConflictError, match="closed"):
        card_replace(card=card, reason="Again.", actor=TEST_ACTOR)
    assert written() == closed != before

    other = CardFactory(bin=BinFactory(bin="45000000", network="visa"))
    other.bin.is_active = False
    other.bin.save()
    before = written()
    with pytest.raises(ConflictError, match="BIN is inactive"):
        card_replace(card=other, reason="Replace.", actor=TEST_ACTOR)
    with pytest.raises(Exception, match="Say why"):
        card_replace(card=other, reason="  ", actor=TEST_ACTOR)
    assert written() == before


def test_a_reversal_after_the_replacement_credits_the_new_card(card):
    approved = authorize(card, amount_minor=2_345)
    first = card_replace(card=card, reason="First.", actor=TEST_ACTOR).card
    second = card_replace(card=first, reason="Second.", actor=TEST_ACTOR).card

    authorization_reverse(transaction=approved, actor=TEST_ACTOR)

    assert balances(card, first, second) == [0, 0, 12_345]
    assert LedgerEntry.objects.filter(card=second, kind=LedgerEntry.Kind.REVERSAL).get().amount_minor == 2_345
    assert not ledger_mismatches().exists()


def test_the_old_card_is_declined_and_the_new_one_approved(card):
    issued = card_replace(card=card, reason="Compromised.", actor=TEST_ACTOR)
    new = issued.card
    new.pan, new.cvv = issued.pan, issued.cvv

    assert authorize(card).response_code != "00"
    assert authorize(new).response_code == "00"
    assert card_data.mask_pan(issued.pan) == new.masked_pan


# --- The API ------------------------------------------------------------------------------------


def test_the_api_answers_201_with_the_new_number_once_and_both_cards_name_each_other(manage_api, card):
    response = post(manage_api, replace_url(card), {"reason": "Compromised."})

    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    body = response.json()
    new = Card.objects.get(pk=body["id"])
    assert body["pan"] == card_credentials(new).pan and body["cvv"] == card_credentials(new).cvv
    assert body["replaces"] == str(card.pk) and body["replaced_by"] is None
    assert body["balance"] == "123.45" and body["limits"]["daily"] == "1000.00"
    old = manage_api.get(f"{CARDS}{card.pk}/").json()
    assert old["status"] == "closed" and old["replaced_by"] == body["id"] and "pan" not in old
    listed = {c["id"]: c for c in manage_api.get(CARDS).json()["results"]}
    assert listed[str(card.pk)]["replaced_by"] == body["id"] and listed[body["id"]]["replaces"] == str(
        card.pk
    )


def test_the_api_replays_the_same_replacement_under_its_idempotency_key(manage_api, card):
    first = post(manage_api, replace_url(card), {"reason": "Compromised."}, key="replace-1")
    again = post(manage_api, replace_url(card), {"reason": "Compromised."}, key="replace-1")

    assert again.status_code == 201 and again.json() == first.json()
    assert Card.objects.filter(replaces=card).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "reason"), ({"reason": ""}, "reason"), ({"reason": "x" * 201}, "reason"), ({"reason": 5}, None)],
)
def test_a_bad_body_is_a_400_naming_the_field_and_writes_nothing(manage_api, card, body, field):
    before = written()
    response = post(manage_api, replace_url(card), body)

    assert response.status_code == 400
    if field:
        assert field in response.json()
    assert written() == before


def test_a_closed_card_is_a_409_an_unknown_one_a_404_and_authorize_only_keys_are_refused(
    manage_api, authorize_api, card
):
    card_change_status(card=card, status=Status.CLOSED, reason="Closed.", actor=TEST_ACTOR)
    before = written()

    assert post(manage_api, replace_url(card), {"reason": "Again."}).status_code == 409
    assert (
        post(
            manage_api, f"{CARDS}00000000-0000-0000-0000-000000000000/replace/", {"reason": "X."}
        ).status_code
        == 404
    )
    assert post(authorize_api, replace_url(card), {"reason": "X."}).status_code == 403
    assert written() == before


# --- The admin -----------------------------------------------------------------------------------


def test_the_admin_replaces_from_the_card_page_and_shows_the_new_number_once(admin_client, card):
    url = reverse("admin:cards_card_replace", args=[card.pk])
    page = admin_client.get(reverse("admin:cards_card_change", args=[card.pk])).content.decode()
    assert url in page

    response = admin_client.post(url, {"reason": "Compromised."})

    html = response.content.decode()
    new = Card.objects.get(replaces=card)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert card_credentials(new).pan in html and card.masked_pan in html
    page = admin_client.get(reverse("admin:cards_card_change", args=[card.pk])).content.decode()
    assert "replaced by" in page and new.masked_pan in page and url not in page
    assert card_credentials(new).pan not in page


def test_the_admin_names_the_reason_and_refuses_a_second_replacement_on_the_form(admin_client, card):
    url = reverse("admin:cards_card_replace", args=[card.pk])

    assert admin_client.post(url, {"reason": ""}).context["form"].errors == {
        "reason": ["This field is required."]
    }
    admin_client.post(url, {"reason": "Compromised."})
    again = admin_client.post(url, {"reason": "Compromised."})

    assert again.status_code == 200 and "A closed card cannot be replaced." in again.content.decode()
    assert Card.objects.filter(replaces=card).count() == 1
