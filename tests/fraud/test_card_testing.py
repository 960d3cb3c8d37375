"""Card testing across cards (issue 12, part 5), end to end through the API: a tester who
tried wrong CVVs or expiry dates on forty cards at one merchant is declined there with
the right ones afterwards, while untouched cards are not."""

import pytest

from cards.models import Card
from tests.authorizing import decide, wrong_cvv
from tests.factories import BinFactory, CardFactory
from tests.fraud.clock import MINUTE, NOW, SECOND

pytestmark = pytest.mark.django_db

ATTACKED = {
    "merchant_id": "M-TESTED",
    "merchant_name": "Gift Cards Online",
    "mcc": "5999",
    "channel": "ecommerce",
}
ELSEWHERE = {"merchant_id": "M-1001"}  # the corner coffee shop
CARDS = 40
START = NOW - 20 * MINUTE  # the attack; the clock (conftest.py) stands at NOW


def _at(instant) -> str:
    return instant.isoformat()


@pytest.fixture
def tested_bin(db):
    """One BIN, as the tester's list of numbers has: every card below is in it."""
    return BinFactory()


@pytest.fixture
def cards(tested_bin):
    return [CardFactory(bin=tested_bin, balance_minor=1_000_00) for _ in range(CARDS)]


def _guess(api, cards, wrong: str) -> list[str]:
    """Two wrong guesses on each card at the attacked merchant, five seconds apart (six
    and a half minutes in all): the response codes."""
    answers = []
    for i, card in enumerate(cards):
        for n in range(2):
            guess = {"cvv": wrong_cvv(card)} if wrong == "cvv" else {"expiry_year": card.expiry_year + 1}
            at = START + (2 * i + n) * 5 * SECOND
            answers.append(decide(api, card, **ATTACKED, **guess, transaction_time=_at(at))["response_code"])
    return answers


@pytest.mark.parametrize(("wrong", "code"), [("cvv", "N7"), ("expiry", "54")], ids=["cvv", "expiry date"])
def test_cards_tried_with_wrong_guesses_at_a_merchant_are_declined_there_with_the_right_ones(
    authorize_api, full_api, cards, tested_bin, wrong, code
):
    assert _guess(authorize_api, cards, wrong) == [code] * 2 * CARDS
    then = START + 10 * MINUTE

    right = [
        decide(authorize_api, card, **ATTACKED, transaction_time=_at(then + i * SECOND))
        for i, card in enumerate(cards)
    ]

    assert {(a["response_code"], a["reason"]) for a in right} == {("59", "suspected_fraud")}
    for answer in right:
        assert answer["risk_factors"][0] == {"code": "card_tested_at_merchant", "score": 80}
        assert {"merchant_card_testing", "bin_card_testing"} <= {f["code"] for f in answer["risk_factors"]}
    # Nothing was debited and no card blocked: two wrong guesses each stay below the limit.
    assert set(Card.objects.values_list("status", "balance_minor")) == {("active", 1_000_00)}
    # A client with the manage scope reads why, without the card's data.
    explained = full_api.get(f"/api/v1/transactions/{right[0]['id']}/").json()["risk_factors"][0]["detail"]
    assert explained == (
        "This card failed 2 checks (wrong CVV or expiry date) at merchant M-TESTED, where 40 card checks "
        "failed in the last 24 hours (from 10), 50% of its 80 transactions (from 10%): card testing."
    )


def test_an_untouched_card_of_the_tested_bin_is_approved_at_another_merchant(
    authorize_api, cards, tested_bin
):
    _guess(authorize_api, cards, "cvv")
    untouched = CardFactory(bin=tested_bin, balance_minor=1_000_00)

    answer = decide(authorize_api, untouched, **ELSEWHERE, transaction_time=_at(START + 10 * MINUTE))

    assert (answer["response_code"], answer["flagged"]) == ("00", False)
    assert answer["risk_factors"] == [{"code": "bin_card_testing", "score": 20}]


def test_an_untouched_card_at_the_attacked_merchant_is_declined_while_the_attack_lasts(
    authorize_api, cards, tested_bin
):
    # Its own checks never failed there and it gives its right CVV, but testers try
    # numbers whose CVV they hold from a breach too, on the merchant they are testing
    # at: from min_failures failed checks in the window (80 failed here) the merchant's
    # purchases are declined (merchant_card_testing, 80 points), the price of stopping
    # a tester's first right-CVV attempts; the same card elsewhere is approved (above).
    _guess(authorize_api, cards, "cvv")
    untouched = CardFactory(bin=tested_bin, balance_minor=1_000_00)

    answer = decide(authorize_api, untouched, **ATTACKED, transaction_time=_at(START + 10 * MINUTE))

    assert (answer["response_code"], answer["risk_score"]) == ("59", 100)
    assert [f["code"] for f in answer["risk_factors"]] == ["merchant_card_testing", "bin_card_testing"]
    assert Card.objects.get(pk=untouched.pk).balance_minor == 1_000_00


def test_after_the_window_the_tested_cards_are_approved_there_again(authorize_api, cards, clock):
    _guess(authorize_api, cards, "cvv")
    a_day_later = START + 24 * 60 * MINUTE + 7 * MINUTE  # every guess more than 24 hours back
    clock.move_to(a_day_later)

    answer = decide(authorize_api, cards[-1], **ATTACKED, transaction_time=_at(a_day_later))

    assert (answer["response_code"], answer["risk_factors"]) == ("00", [])
