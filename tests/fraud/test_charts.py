"""The fraud pages' charts: the configurations (fraud/charts.py) hold exactly the figures
of the tables beside them, a model stores its held-out curves at training
(fraud/curves.py), and each page (model, backtest, shadow comparison, rule performance)
carries its charts to those who may view it, and to nobody else."""

import datetime
import itertools

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils.html import escape

from fraud import catalogue, charts, curves, shadow
from fraud.backtest import OUTCOMES
from fraud.models import FraudModel, Rule
from fraud.performance import RuleFigures
from fraud.versions import config_version_create
from tests.admin_pages import change_url, charts_in, series
from tests.authorizing import authorize_at
from tests.factories import TEST_ACTOR, UserFactory, staff_with_roles
from tests.fraud.clock import DAY, MINUTE, NOW
from tests.fraud.modelling import history, train

pytestmark = pytest.mark.django_db
authorize = authorize_at(NOW)
CASINO_ABROAD = {"merchant_country": "NG", "mcc": "7995", "merchant_id": "M-NG", "channel": "ecommerce"}
WINDOW = {"since": (NOW - DAY).isoformat(), "until": (NOW + DAY).isoformat()}
MATRIX = {
    ("approve", "approve"): 5,
    ("review", "decline"): 2,
    ("approve", "review"): 1,
    ("decline", "decline"): 3,
}


# --- The configurations --------------------------------------------------------------------------


def test_a_tables_rows_become_one_series_per_column_named_by_its_header():
    config = charts.table_bars(["rule", "recorded", "version 3"], [("cvv", 4, 0), ("velocity", 2, 7)])

    assert config["type"] == "bar"
    assert config["data"]["labels"] == ["cvv", "velocity"]
    assert series(config) == [("recorded", [4, 2]), ("version 3", [0, 7])]
    assert config["options"]["plugins"]["legend"]["display"] is True
    horizontal = charts.table_bars(["", "decisions"], [("a", 1)], horizontal=True)
    assert horizontal["options"]["indexAxis"] == "y" and "x" in horizontal["options"]["scales"]
    assert horizontal["options"]["plugins"]["legend"]["display"] is False


def test_a_long_label_beside_a_horizontal_bar_is_drawn_on_lines_a_long_word_whole():
    assert charts.wrapped("amount") == "amount"
    assert charts.wrapped("amount against the card's 30-day average") == [
        "amount against the",
        "card's 30-day average",
    ]
    assert charts.wrapped("merchant_card_testing_declines_in_the_hour") == (
        "merchant_card_testing_declines_in_the_hour"
    )
    assert charts.table_bars(["", "n"], [("a b " * 20, 1)])["data"]["labels"] == ["a b " * 20]


def test_a_matrix_of_outcomes_gives_each_sides_totals_and_the_changes_by_direction():
    assert charts.outcome_totals(MATRIX) == [("approve", 6, 5), ("review", 2, 1), ("decline", 3, 5)]
    assert charts.outcome_changes(MATRIX) == [
        ("approve→review", 1),
        ("approve→decline", 0),
        ("review→approve", 0),
        ("review→decline", 2),
        ("decline→approve", 0),
        ("decline→review", 0),
    ]


def test_the_model_charts_draw_the_stored_curves_against_chance_and_the_gain_in_percent():
    holdout = {
        "rows": 200,
        "frauds": 10,
        "roc_auc": 0.91234,
        "average_precision": 0.5,
        "curves": {"roc": [[0, 0], [0.1, 0.8], [1, 1]], "precision_recall": [[1, 0.05], [0.5, 0.9], [0, 1]]},
    }

    roc = charts.model_roc(holdout)
    precision_recall = charts.model_precision_recall(holdout)
    importance = charts.model_importance(
        [{"feature": "card_count_1h", "share": 0.6123}, {"feature": "no_such_feature", "share": 0.05}]
    )

    assert series(roc) == [
        ("held out (ROC AUC 0.912)", [{"x": 0, "y": 0}, {"x": 0.1, "y": 0.8}, {"x": 1, "y": 1}]),
        ("chance", [{"x": 0, "y": 0}, {"x": 1, "y": 1}]),
    ]
    assert series(precision_recall) == [
        ("held out (average precision 0.500)", [{"x": 1, "y": 0.05}, {"x": 0.5, "y": 0.9}, {"x": 0, "y": 1}]),
        ("chance (fraud share 5.0%)", [{"x": 0, "y": 0.05}, {"x": 1, "y": 0.05}]),
    ]
    assert importance["data"]["labels"] == [
        ["transactions on this", "card in the last hour"],  # catalogue.label("card_count_1h")
        "no such feature",
    ]
    assert series(importance) == [("% of the gain", [61.2, 5.0])]


def test_the_rules_chart_draws_hits_as_bars_and_precision_in_percent_on_its_own_axis():
    rows = [
        charts_row("amount_large", fired=4, fraud_caught=3),
        charts_row("cvv_mismatch", fired=0, fraud_caught=0),
    ]

    config = charts.rule_performance(rows)

    assert config["data"]["labels"] == ["amount_large", "cvv_mismatch"]
    assert series(config) == [("fired", [4, 0]), ("precision %", [75.0, None])]
    assert config["data"]["datasets"][1]["yAxisID"] == "precision"
    assert config["options"]["scales"]["precision"]["max"] == 100


def charts_row(code: str, *, fired: int, fraud_caught: int) -> RuleFigures:
    return RuleFigures(
        code=code, name=code, fired=fired, declines=0, reviews=0, decisive=0, fraud_caught=fraud_caught
    )


def test_a_curve_keeps_at_most_its_points_evenly_spaced_with_both_ends():
    xs = [i / 999 for i in range(1000)]

    points = curves.downsampled(xs, [1 - x for x in xs], most=200)

    assert len(points) == 200
    assert points[0] == [0.0, 1.0] and points[-1] == [1.0, 0.0]
    assert all(a[0] < b[0] for a, b in itertools.pairwise(points))
    assert curves.downsampled([0.5, 1.0], [0.25, 0.75]) == [[0.5, 0.25], [1.0, 0.75]]


# --- The model page ------------------------------------------------------------------------------


@pytest.fixture
def trained(card):
    history(card)
    return train()


def test_training_stores_the_held_out_curves_that_match_its_roc_auc(trained):
    holdout = trained.metadata["holdout"]
    roc, precision_recall = holdout["curves"]["roc"], holdout["curves"]["precision_recall"]

    assert 2 < len(roc) <= curves.MAX_POINTS and 2 < len(precision_recall) <= curves.MAX_POINTS
    assert roc[0] == [0.0, 0.0] and roc[-1] == [1.0, 1.0]
    assert precision_recall[-1] == [0.0, 1.0]  # scikit-learn's last point: no recall, full precision
    assert all(0 <= value <= 1 for point in roc + precision_recall for value in point)
    area = sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in itertools.pairwise(roc))
    assert area == pytest.approx(holdout["roc_auc"], abs=0.01)
    assert 0 < len(trained.metadata["importance"]) <= 15


def test_the_model_page_draws_its_curves_and_the_importance_of_its_features(admin_client, trained):
    body = admin_client.get(change_url(trained)).content.decode()

    found = charts_in(body)
    holdout = trained.metadata["holdout"]
    assert found == {
        "model-roc": charts.model_roc(holdout),
        "model-precision-recall": charts.model_precision_recall(holdout),
        "model-importance": charts.model_importance(trained.metadata["importance"]),
    }
    assert [point["x"] for point in series(found["model-roc"])[0][1]] == [
        x for x, _ in holdout["curves"]["roc"]
    ]
    for item, label in zip(
        trained.metadata["importance"], found["model-importance"]["data"]["labels"], strict=True
    ):
        text = " ".join(label) if isinstance(label, list) else label
        assert text == catalogue.label(item["feature"])
        assert f"<td>{escape(text)}</td><td>{item['share']:.0%}</td>" in body
    assert "vendor/chart.js/chart.umd.min.js" in body and "curves-missing" not in body


def test_a_model_trained_before_the_curves_says_to_train_again(admin_client, trained):
    del trained.metadata["holdout"]["curves"]
    trained.save()

    body = admin_client.get(change_url(trained)).content.decode()

    assert 'id="curves-missing"' in body and "train it again" in body
    assert set(charts_in(body)) == {"model-importance"}


def test_the_model_page_and_its_charts_are_refused_without_the_view_permission(client, trained):
    client.force_login(staff_with_roles("Card operations"))
    response = client.get(change_url(trained))
    assert response.status_code == 403 and b"chart-model" not in response.content

    client.force_login(staff_with_roles("Fraud analyst"))
    assert set(charts_in(client.get(change_url(trained)).content.decode())) == {
        "model-roc",
        "model-precision-recall",
        "model-importance",
    }
    assert FraudModel.objects.get().metadata == trained.metadata  # read, never written


# --- Backtest and shadow -------------------------------------------------------------------------


@pytest.fixture
def draft(high_risk_country, card):
    """Two decisions (a coffee approved, a casino in Nigeria reviewed at 60), and a draft
    weighing Nigeria 50: the casino scores 80, a decline."""
    authorize(card)
    authorize(card, transaction_time=NOW + MINUTE, **CASINO_ABROAD)
    Rule.objects.filter(code="high_risk_country").update(score=50)
    return config_version_create(actor=TEST_ACTOR, reason="Nigeria weighs more.")


# The casino's review declined, nothing else changed: the changes by direction.
REVIEW_TO_DECLINE = {
    "approve→review": 0,
    "approve→decline": 0,
    "review→approve": 0,
    "review→decline": 1,
    "decline→approve": 0,
    "decline→review": 0,
}


def by_label(config: dict, dataset: int = 0) -> dict:
    """A chart's values of one dataset by their label."""
    return dict(zip(config["data"]["labels"], series(config)[dataset][1], strict=True))


def backtest_url(version) -> str:
    return reverse("admin:fraud_fraudconfigversion_backtest", args=[version.pk])


def test_a_backtest_draws_the_outcomes_and_the_rules_hits_beside_their_tables(admin_client, draft):
    body = admin_client.post(backtest_url(draft), WINDOW).content.decode()

    found = charts_in(body)
    assert set(found) == {"backtest-outcomes", "backtest-changes", "backtest-rule-hits"}
    outcomes = found["backtest-outcomes"]
    assert outcomes["data"]["labels"] == list(OUTCOMES)
    assert series(outcomes) == [("recorded", [1, 1, 0]), (f"version {draft.number}", [1, 0, 1])]
    hits = found["backtest-rule-hits"]
    (_, recorded), (_, again) = series(hits)
    rows = dict(zip(hits["data"]["labels"], zip(recorded, again, strict=True), strict=True))
    assert [label for label, _ in series(hits)] == ["recorded", f"version {draft.number}"]
    assert rows["high_risk_country"] == (1, 1)
    for code, (recorded, again) in rows.items():
        assert f"<td>{code}</td><td>{recorded}</td><td>{again}</td>" in body
    changes = found["backtest-changes"]
    assert by_label(changes) == REVIEW_TO_DECLINE
    assert body.count('class="side-by-side"') == 3


def test_a_backtest_page_before_a_run_or_for_a_viewer_has_no_chart_and_others_are_refused(client, draft):
    client.force_login(staff_with_roles("Fraud analyst"))  # views versions, runs nothing
    page = client.get(backtest_url(draft)).content.decode()
    assert charts_in(page) == {} and "chart.umd.min.js" not in page
    assert client.post(backtest_url(draft), WINDOW).status_code == 403

    client.force_login(staff_with_roles("Card operations"))
    assert client.get(backtest_url(draft)).status_code == 403


@pytest.fixture
def heavier_nigeria(high_risk_country):
    """A draft weighing Nigeria 50 instead of 30, in shadow."""
    Rule.objects.filter(code="high_risk_country").update(score=50)
    version = config_version_create(actor=TEST_ACTOR, reason="Nigeria weighs more.")
    shadow.shadow_start(version=version, actor=TEST_ACTOR, reason="Watch.")
    return version


def test_a_shadow_comparison_draws_both_sides_outcomes_and_the_changes_by_direction(
    admin_client, heavier_nigeria, card
):
    version = heavier_nigeria
    authorize(card)  # approved by both
    authorize(card, transaction_time=NOW + MINUTE, **CASINO_ABROAD)  # live review, shadow decline
    url = reverse("admin:fraud_shadow_compare", args=[version.pk])

    found = charts_in(admin_client.get(url, WINDOW).content.decode())

    assert set(found) == {"shadow-outcomes", "shadow-changes"}
    assert found["shadow-outcomes"]["data"]["labels"] == list(OUTCOMES)
    assert series(found["shadow-outcomes"]) == [
        ("live", [1, 1, 0]),
        (f"version {version.number} (shadow)", [1, 0, 1]),
    ]
    changes = found["shadow-changes"]
    assert by_label(changes) == REVIEW_TO_DECLINE
    viewer = UserFactory(username="viewer", is_superuser=False)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_transaction"))
    admin_client.force_login(viewer)
    assert admin_client.get(url, WINDOW).status_code == 403


def test_a_shadow_comparison_with_a_bad_period_draws_no_chart(admin_client, heavier_nigeria):
    url = reverse("admin:fraud_shadow_compare", args=[heavier_nigeria.pk])
    backwards = {"since": NOW.isoformat(), "until": (NOW - MINUTE).isoformat()}

    body = admin_client.get(url, backwards).content.decode()

    assert charts_in(body) == {} and "chart.umd.min.js" not in body


# --- Rule performance ----------------------------------------------------------------------------


def test_the_rule_performance_page_draws_each_rules_hits_and_precision(admin_client, high_risk_country, card):
    authorize(card, transaction_time=NOW - datetime.timedelta(hours=2), **CASINO_ABROAD)
    authorize(card, transaction_time=NOW - datetime.timedelta(hours=1))
    page = reverse("admin:fraud_rule_performance")

    day = {"period": "custom", "since": "2026-06-14 12:00", "until": "2026-06-15 12:00"}

    body = admin_client.get(page, day).content.decode()

    config = charts_in(body)["rule-performance"]
    fired = by_label(config)
    assert set(fired) == set(Rule.objects.values_list("code", flat=True))
    assert fired["high_risk_country"] == 1 and fired["cvv_mismatch"] == 0
    precision = by_label(config, 1)
    assert precision["high_risk_country"] == 0.0 and precision["cvv_mismatch"] is None
    assert "<td>high_risk_country</td><td>1</td>" in body
