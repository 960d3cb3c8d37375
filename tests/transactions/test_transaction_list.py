"""GET /api/v1/transactions/ and /{id}/ (scope manage): filters, validation of their
values, cursor pages."""

import datetime
import uuid

import pytest
import time_machine

from tests.authorizing import decide, post_reversal, wrong_cvv
from tests.factories import CardFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/transactions/"
NOW = datetime.datetime(2026, 3, 16, 12, tzinfo=datetime.UTC)
STRANGER_PAN = "4000001234567899"


@pytest.fixture
def history(authorize_api, rule, thresholds):
    """Six decisions on two cards, one a minute apart, named by what they are."""
    rule("foreign_country", 10)
    rule("cvv_mismatch", 5)
    thresholds(review=10, decline=50)
    with time_machine.travel(NOW, tick=False) as clock:
        first, second = CardFactory(balance_minor=100_00), CardFactory(balance_minor=100_00)
        plan = {
            "approved": (first, {"transaction_time": "2026-03-10T10:00:00Z", "merchant_id": "M-1"}),
            "insufficient": (first, {"transaction_time": "2026-03-11T10:00:00Z", "amount": "500.00"}),
            "wrong_cvv": (second, {"transaction_time": "2026-03-12T10:00:00Z", "cvv": wrong_cvv(second)}),
            "unknown": (second, {"transaction_time": "2026-03-13T10:00:00Z", "card_number": STRANGER_PAN}),
            "flagged": (second, {"transaction_time": "2026-03-14T10:00:00Z", "merchant_country": "GB"}),
            "reversed": (second, {"transaction_time": "2026-03-15T10:00:00Z", "amount": "1.00"}),
        }
        made = {}
        for name, (card, changes) in plan.items():
            clock.shift(datetime.timedelta(minutes=1))
            made[name] = decide(authorize_api, card, **changes)["id"]
        post_reversal(authorize_api, made["reversed"])
    made["cards"] = (str(first.pk), str(second.pk))
    return made


def listed(api, query=""):
    response = api.get(f"{URL}?{query}")
    assert response.status_code == 200, response.content[:300]
    return response.json()


def test_lists_every_transaction_newest_first(manage_api, history):
    page = listed(manage_api)

    names = ["reversed", "flagged", "unknown", "wrong_cvv", "insufficient", "approved"]
    assert [row["id"] for row in page["results"]] == [history[name] for name in names]
    assert page["results"][0]["status"] == "reversed" and page["results"][0]["reversed_at"]
    assert STRANGER_PAN not in str(page)


FILTERS = {
    "card=first": ["insufficient", "approved"],
    "status=approved": ["flagged", "approved"],
    "status=declined": ["unknown", "wrong_cvv", "insufficient"],
    "status=reversed": ["reversed"],
    "response_code=N7": ["wrong_cvv"],
    "response_code=14": ["unknown"],
    "flagged=true": ["flagged"],
    "min_risk=5": ["flagged", "wrong_cvv"],
    "min_risk=10": ["flagged"],
    "min_risk=11": [],
    "since=2026-03-13T10:00:00Z": ["reversed", "flagged", "unknown"],
    "until=2026-03-11T10:00:00Z": ["approved"],
    "since=2026-03-11T11:00:00%2B01:00&until=2026-03-12T10:00:01Z": ["wrong_cvv", "insufficient"],
    "merchant_id=M-1": ["approved"],
    "card=second&status=declined": ["wrong_cvv"],
}


@pytest.mark.parametrize(("query", "expected"), FILTERS.items(), ids=FILTERS.keys())
def test_filters(manage_api, history, query, expected):
    query = query.replace("card=first", f"card={history['cards'][0]}")
    query = query.replace("card=second", f"card={history['cards'][1]}")

    page = listed(manage_api, query)

    assert [row["id"] for row in page["results"]] == [history[name] for name in expected]


def test_flagged_false_lists_the_unflagged(manage_api, history):
    ids = [row["id"] for row in listed(manage_api, "flagged=false")["results"]]

    assert history["flagged"] not in ids and len(ids) == 5


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("card=not-a-uuid", "card"),
        ("status=pending", "status"),
        ("response_code=99", "response_code"),
        ("response_code=n7", "response_code"),
        ("flagged=yes", "flagged"),
        ("flagged=1", "flagged"),
        ("min_risk=101", "min_risk"),
        ("min_risk=-1", "min_risk"),
        ("min_risk=abc", "min_risk"),
        ("min_risk=50.5", "min_risk"),
        ("since=2026-03-13T10:00:00", "since"),  # naive
        ("since=2026-03-13T10:00:00+01:00", "since"),  # an unencoded + reads as a space
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        ("limit=0", "limit"),
        ("cursor=bogus", "cursor"),
    ],
)
def test_a_filter_value_that_makes_no_sense_is_a_400_naming_it(manage_api, query, parameter):
    response = manage_api.get(f"{URL}?{query}")

    assert response.status_code == 400 and parameter in response.json()


def test_a_nul_byte_in_a_filter_is_a_json_400(manage_api):
    response = manage_api.get(f"{URL}?merchant_id=M%00")

    assert response.status_code == 400 and "detail" in response.json()


def test_pages_follow_their_cursor_without_gaps_or_repeats(manage_api, history):
    seen, url = [], f"{URL}?limit=2"
    while url:
        page = manage_api.get(url).json()
        assert len(page["results"]) <= 2
        seen += [row["id"] for row in page["results"]]
        url = page["next"]

    assert seen == [row["id"] for row in listed(manage_api)["results"]] and len(set(seen)) == 6


def test_one_transaction_reads_with_its_merchant_and_card(manage_api, history):
    response = manage_api.get(f"{URL}{history['approved']}/")

    assert response.status_code == 200
    answer = response.json()
    assert (answer["card"], answer["merchant_id"], answer["merchant_country"]) == (
        history["cards"][0],
        "M-1",
        "US",
    )
    assert (answer["amount"], answer["transaction_time"]) == ("42.00", "2026-03-10T10:00:00Z")


def test_an_unknown_transaction_is_a_json_404(manage_api):
    response = manage_api.get(f"{URL}{uuid.uuid4()}/")

    assert response.status_code == 404 and "detail" in response.json()


@pytest.mark.parametrize("path", ["", "00000000-0000-0000-0000-000000000000/"])
def test_reading_transactions_needs_the_manage_scope(authorize_api, anonymous_api, path):
    assert authorize_api.get(f"{URL}{path}").status_code == 403
    assert anonymous_api.get(f"{URL}{path}").status_code == 401
