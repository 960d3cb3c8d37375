"""The supervised model beside the rules: training on the labelled history (only what
was known at the cut-off), refusing too few labels, choosing the active model, and
predictions explained in an analyst's words."""

import datetime
import math
from io import StringIO

import numpy as np
import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse

from cardsystem.models import AuditLog, ChangeRequest
from demo.simulation import plan_world, replay_world
from fraud import catalogue, inference, scoring, training
from fraud.change_kinds import MODEL_ACTIVATE
from fraud.models import FraudConfigVersion, FraudModel, FraudSettings
from fraud.services import model_activate, model_deactivate
from tests.factories import TEST_ACTOR, UserFactory
from tests.fraud import four_eyes
from tests.fraud.clock import DAY, HOUR, NOW
from tests.fraud.modelling import (
    CUTOFF,
    FEW_TREES,
    FRAUD_LIKE,
    LABEL_DELAY,
    SINCE,
    USUAL,
    history,
    train,
    transaction_on,
)
from transactions.models import FraudReport, Transaction


@pytest.fixture
def trained(card):
    history(card)
    return train()


# --- Training ----------------------------------------------------------------------------------


def test_training_on_a_tiny_simulated_world_uses_the_reports_known_at_the_cutoff(db):
    since = NOW - 30 * DAY
    world = plan_world(cardholders=40, days=30, seed=1, end=NOW, fraud="showcase")
    replay_world(world, actor=TEST_ACTOR)
    rows = Transaction.objects.filter(
        card__isnull=False,
        status__in=["approved", "reversed"],  # nobody disputes a decline
        transaction_time__gte=since,
        transaction_time__lt=NOW - LABEL_DELAY,
    )
    assert Transaction.objects.filter(status="declined", card__isnull=False).exists()
    frauds = rows.filter(fraud_report__reported_at__lte=NOW).count()
    # The showcase world's disputes, days after the fraud (a wrong PIN is declined: 55).
    assert frauds >= 5

    model = training.train(
        actor=TEST_ACTOR,
        cutoff=NOW,
        since=since,
        label_delay=LABEL_DELAY,  # the latest week's fraud is not reported yet
        min_frauds=5,
        min_rows=200,
        rounds=FEW_TREES,
    )

    assert (model.metadata["rows"], model.metadata["frauds"]) == (rows.count(), frauds)
    assert model.features == list(catalogue.MODEL_NAMES)
    assert 0.5 < model.metadata["holdout"]["roc_auc"] <= 1
    probability = inference.predict(model, rows.first().risk_features).probability
    assert 0 <= probability <= 1


def test_training_on_a_labelled_history_stores_a_measured_inactive_model(card):
    _, frauds = history(card)

    model = train()

    assert (model.version, model.active, model.created_by) == (1, False, "tests")
    assert model.features == list(catalogue.MODEL_NAMES)
    meta = model.metadata
    assert (meta["rows"], meta["frauds"], meta["without_features"]) == (1200, frauds, 0)
    assert meta["label_delay_days"] == 7
    assert datetime.datetime.fromisoformat(meta["cutoff"]) == CUTOFF
    holdout = meta["holdout"]
    assert holdout["rows"] == 240 and holdout["train_rows"] == 960
    assert holdout["frauds"] + holdout["train_frauds"] == frauds
    assert holdout["roc_auc"] > 0.95 and holdout["average_precision"] > 0.8
    assert [row["threshold"] for row in holdout["thresholds"]] == list(training.THRESHOLDS)
    assert meta["trees"] == FEW_TREES
    assert meta["libraries"]["lightgbm"]
    # The features the fraud rows differ in (tests/fraud/modelling.py) lead the importance.
    assert meta["importance"][0]["feature"] in {
        "amount_usd",
        "ecommerce",
        "first_country",
        "amount_to_mean",
        "merchant_cvv_mismatch_1h",
        "card_count_1h",
    }
    assert meta["fraud_weight"] == training.DEFAULT_FRAUD_WEIGHT
    audit = AuditLog.objects.get(action=AuditLog.Action.MODEL_TRAINED)
    assert (audit.target_id, audit.details["version"], audit.details["frauds"]) == (str(model.pk), 1, frauds)
    assert inference.active_model() is None  # trained, not chosen


def test_each_training_is_the_next_version_and_the_same_rows_give_the_same_model(card):
    history(card)

    first, second = train(), train()

    assert (first.version, second.version) == (1, 2)
    assert first.artifact == second.artifact  # deterministic


def test_training_sees_only_what_was_known_at_the_cutoff(card, monkeypatch):
    monkeypatch.setattr(training, "CHUNK", 2)  # rows arrive in several chunks
    label_delay = LABEL_DELAY
    reported_in_time = transaction_on(card, SINCE + DAY, dict(FRAUD_LIKE))
    reported_too_late = transaction_on(card, SINCE + 2 * DAY, dict(FRAUD_LIKE))
    unreported = transaction_on(card, SINCE + 3 * DAY, dict(USUAL))
    inside_label_delay = transaction_on(card, CUTOFF - label_delay + HOUR, dict(FRAUD_LIKE))
    after_cutoff = transaction_on(card, CUTOFF + HOUR, dict(FRAUD_LIKE))
    before_since = transaction_on(card, SINCE - HOUR, dict(FRAUD_LIKE))
    unknown_card = transaction_on(None, SINCE + 4 * DAY, dict(FRAUD_LIKE))
    without_features = transaction_on(card, SINCE + 5 * DAY, {})
    earlier_engine = transaction_on(card, SINCE + 6 * DAY, {"count_1m": 0, "previous_country": "US"})
    Transaction.objects.bulk_create(
        [
            reported_in_time,
            reported_too_late,
            unreported,
            inside_label_delay,
            after_cutoff,
            before_since,
            unknown_card,
            without_features,
            earlier_engine,
        ]
    )
    for txn, reported_at in [
        (reported_in_time, CUTOFF),
        (reported_too_late, CUTOFF + HOUR),
        (inside_label_delay, CUTOFF - HOUR),
        (after_cutoff, CUTOFF + 2 * HOUR),
        (before_since, SINCE),
    ]:
        FraudReport.objects.create(transaction=txn, reason="dispute", reported_at=reported_at)

    data = training.training_set(since=SINCE, cutoff=CUTOFF, label_delay=label_delay)

    assert data.times == [t.transaction_time for t in (reported_in_time, reported_too_late, unreported)]
    assert data.y.tolist() == [1, 0, 0]
    assert data.without_features == 2
    assert data.until == CUTOFF - label_delay
    column = data.features.index("amount_to_mean")
    assert data.X[:, column].tolist() == [6.2, 6.2, 0.9]
    # Booleans are 0/1 and a name the row did not store is NaN.
    assert data.X[0, data.features.index("first_country")] == 1.0
    assert math.isnan(data.X[0, data.features.index("merchant_declines_1h")])


def test_refuses_to_train_on_too_few_confirmed_frauds(card):
    history(card, rows=1000, fraud_share=0.012)

    with pytest.raises(training.NotEnoughLabels) as refused:
        train(min_frauds=30)

    assert str(refused.value) == (
        "Only 12 confirmed frauds among 1000 transactions from 2026-04-05 12:00 to 2026-06-07 12:00; "
        "need at least 30."
    )
    assert not FraudModel.objects.exists()
    assert not AuditLog.objects.filter(action=AuditLog.Action.MODEL_TRAINED).exists()


def test_refuses_to_train_on_too_few_transactions(card):
    history(card, rows=600, fraud_share=0.1)

    with pytest.raises(training.NotEnoughLabels, match=r"^Only 600 transactions .*need at least 1000\.$"):
        train()

    assert not FraudModel.objects.exists()


def test_refuses_a_model_it_could_not_measure(card):
    # All the fraud is old: the held-out latest fifth has none.
    transactions, _ = history(card, fraud_share=0)
    for txn in transactions[:40]:
        FraudReport.objects.create(transaction=txn, reason="dispute", reported_at=txn.transaction_time + DAY)

    with pytest.raises(training.NotEnoughLabels, match="No confirmed fraud among the latest transactions"):
        train()

    assert not FraudModel.objects.exists()


# --- The active model --------------------------------------------------------------------------


def test_a_fresh_install_has_no_active_model(db):
    assert inference.active_model() is None


def test_activating_a_model_replaces_the_active_one_with_audit_rows(card):
    history(card)
    first, second = train(), train()

    model_activate(model=first, actor=TEST_ACTOR)
    assert inference.active_model().version == 1
    model_activate(model=second, actor=TEST_ACTOR)
    model_activate(model=second, actor=TEST_ACTOR)  # already active: nothing changes

    assert list(FraudModel.objects.filter(active=True).values_list("version", flat=True)) == [2]
    assert inference.active_model().version == 2  # this process at once, not after the TTL
    activations = AuditLog.objects.filter(action=AuditLog.Action.MODEL_ACTIVATED).order_by("id")
    assert [(a.details["version"], a.details["replaces"]) for a in activations] == [(1, []), (2, [1])]

    model_deactivate(model=second, actor=TEST_ACTOR)
    model_deactivate(model=first, actor=TEST_ACTOR)  # not active: nothing changes

    assert not FraudModel.objects.filter(active=True).exists()
    assert inference.active_model() is None
    deactivation = AuditLog.objects.get(action=AuditLog.Action.MODEL_DEACTIVATED)
    assert deactivation.details == {"version": 2, "config_version": 4}
    # Each change was a version promoted at once (1 is the migration's), the working copy following.
    assert [(v.number, v.model and v.model.version, v.state) for v in FraudConfigVersion.objects.all()] == [
        (4, None, "live"),
        (3, 2, "retired"),
        (2, 1, "retired"),
        (1, None, "retired"),
    ]
    assert FraudConfigVersion.objects.get(number=3).reason == "Fraud model v2 activated."
    assert FraudSettings.objects.get().model is None


def test_the_database_holds_at_most_one_active_model(trained):
    model_activate(model=trained, actor=TEST_ACTOR)
    other = FraudModel.objects.create(
        version=2, created_by="x", artifact=trained.artifact, features=trained.features
    )

    other.active = True
    with pytest.raises(IntegrityError), transaction.atomic():
        other.save()


def test_the_active_model_is_the_live_versions_parsed_once_per_process(trained, django_assert_num_queries):
    model_activate(model=trained, actor=TEST_ACTOR)
    inference.active_model()

    with django_assert_num_queries(0):
        loaded = inference.active_model()
    assert loaded.version == 1 and FraudSettings.objects.get().model == trained
    # The model's `active` flag mirrors the live version; the version decides.
    FraudModel.objects.update(active=False)
    scoring.forget_config()
    assert inference.active_model() is loaded
    inference.forget_model()
    assert inference.active_model() is not loaded and inference.active_model().version == 1


IDENTIFYING = {
    "cardholder_age", "night_share_30d", "card_count_7d", "card_count_30d", "card_spend_7d_usd",
    "card_spend_30d_usd", "merchant_count_1h", "bin_count_1h", "bin_cvv_mismatch_1h", "bin_declines_1h",
    "bin_testing_attempts", "bin_testing_failures", "bin_testing_declines", "merchant_attempts_long",
}  # fmt: skip
# How the card was read and verified before (fraud/authentication.py's rules read them): not
# model inputs, so that a model trained before acquirers sent them reads no missing values.
AUTHENTICATION_HISTORY = {
    "card_magstripe_24h", "card_chip_reads_30d", "card_wrong_pins_24h", "pin_failure_unverified",
    "card_no_cvm_contactless_1h", "device_approvals_30d", "card_device_approvals_30d",
}  # fmt: skip


def test_the_model_never_learns_who_the_cardholder_is_or_how_busy_the_hour_was(card):
    """A victim's age, volume and night habits, the BIN's traffic of the hour: a model
    trained on a few attacks would learn those victims and hours. Stored, not read."""
    history(card)

    model = train()

    assert IDENTIFYING.isdisjoint(model.features)
    assert set(model.features) | IDENTIFYING | AUTHENTICATION_HISTORY == set(catalogue.NAMES)
    assert AUTHENTICATION_HISTORY.isdisjoint(model.features)
    usual = inference.predict(model, USUAL).probability
    older = inference.predict(model, {**USUAL, "cardholder_age": 90, "bin_count_1h": 500}).probability
    assert older == usual


# --- Predictions and their words ---------------------------------------------------------------


def test_a_fraud_like_decision_is_likely_fraud_and_explained_in_words(trained):
    model_activate(model=trained, actor=TEST_ACTOR)

    prediction = inference.predict(inference.active_model(), FRAUD_LIKE)

    assert prediction.version == 1
    assert prediction.probability > 0.8
    assert {name for name, _, _ in prediction.contributions} == set(catalogue.MODEL_NAMES)
    contributions = [c for _, _, c in prediction.contributions]
    assert contributions == sorted(contributions, reverse=True)
    top = [name for name, _, _ in inference.pushed_up(prediction)]
    assert len(top) == 3
    assert set(top) <= {
        "first_country",
        "amount_to_mean",
        "merchant_cvv_mismatch_1h",
        "amount_usd",
        "card_count_1h",
    }
    text = inference.explain(prediction)
    assert text.startswith(f"Model v1: {prediction.probability:.0%} likely fraud. Pushed up most by: ")
    words = {
        "first_country": "first purchase in this country: yes",
        "amount_to_mean": "amount against the card's 30-day average: 6.2x",
        "merchant_cvv_mismatch_1h": "wrong CVVs at this merchant in the last hour: 4",
        "amount_usd": "amount: about 950.00 USD",
        "card_count_1h": "transactions on this card in the last hour: 5",
    }
    assert text.endswith("; ".join(words[name] for name in top) + ".")
    assert inference.model_points(prediction) == round(100 * prediction.probability)


def test_a_usual_decision_is_unlikely_fraud(trained):
    prediction = inference.predict(trained, USUAL)

    assert prediction.probability < 0.1
    assert inference.model_points(prediction, weight=50) <= 5


def test_the_contributions_add_up_to_the_models_probability(trained):
    loaded = inference.load(trained.pk, trained.version)
    row = {**FRAUD_LIKE, "hours_since_last": None, "night": "not a number"}

    prediction = inference.predict(loaded, row)

    plain = loaded.booster.predict(np.array([inference.vector(row, loaded.features)]))[0]
    assert prediction.probability == pytest.approx(plain, rel=1e-9)
    values = {name: value for name, value, _ in prediction.contributions}
    assert values["hours_since_last"] is None and values["night"] is None  # what the model read as missing
    assert values["first_country"] is True


def test_an_explanation_with_nothing_pushing_up_says_so():
    prediction = inference.Prediction(
        version=3, probability=0.004, contributions=[("amount_usd", 12.0, -0.4)]
    )

    assert inference.explain(prediction) == "Model v3: under 1% likely fraud. No feature pushed it up."


# --- The admin ---------------------------------------------------------------------------------


def test_the_admin_lists_models_with_their_window_and_metrics(admin_client, trained):
    response = admin_client.get(reverse("admin:fraud_fraudmodel_changelist"))

    assert response.status_code == 200
    body = response.content.decode()
    assert f"{trained.metadata['holdout']['roc_auc']:.3f}" in body
    assert "2026-04-05 12:00 to 2026-06-07 12:00" in body
    assert reverse("admin:fraud_fraudmodel_add") not in body


def test_the_model_page_shows_its_metrics_and_activates_it(admin_client, trained):
    page = reverse("admin:fraud_fraudmodel_change", args=[trained.pk])

    response = admin_client.get(page)

    assert response.status_code == 200
    body = response.content.decode()
    top = catalogue.label(trained.metadata["importance"][0]["feature"])
    assert "average precision" in body and top in body
    assert "Activate (score with this model)" in body
    switch = reverse("admin:fraud_fraudmodel_activate", args=[trained.pk])
    assert admin_client.get(switch).status_code == 200  # the page asking for a reason
    assert admin_client.post(switch, {"reason": ""}).status_code == 200  # a reason is required
    assert not ChangeRequest.objects.exists()

    assert admin_client.post(switch, {"reason": "Better recall."}).status_code == 302
    trained.refresh_from_db()
    assert not trained.active  # held for a second person
    assert "Activation requested" in admin_client.get(page).content.decode()
    four_eyes.approve(MODEL_ACTIVATE)

    trained.refresh_from_db()
    assert trained.active
    audit = AuditLog.objects.get(action=AuditLog.Action.MODEL_ACTIVATED)
    assert audit.actor_label == "checker"
    assert "requested by analyst" in FraudConfigVersion.objects.get(state="live").reason
    assert "Deactivate (decide by the rules alone)" in admin_client.get(page).content.decode()


def test_the_admin_actions_activate_one_model_and_deactivate(admin_client, trained):
    changelist = reverse("admin:fraud_fraudmodel_changelist")

    response = admin_client.post(changelist, {"action": "activate", "_selected_action": [trained.pk]})
    assert response.url == reverse("admin:fraud_fraudmodel_activate", args=[trained.pk])
    assert admin_client.post(response.url, {"reason": "Better recall."}).status_code == 302
    four_eyes.approve(MODEL_ACTIVATE)
    trained.refresh_from_db()
    assert trained.active

    admin_client.post(changelist, {"action": "deactivate", "_selected_action": [trained.pk]})
    trained.refresh_from_db()
    assert not trained.active
    assert AuditLog.objects.filter(action=AuditLog.Action.MODEL_DEACTIVATED).count() == 1


def test_the_admin_changes_no_model_without_permission(client, trained):
    viewer = UserFactory(username="viewer", is_superuser=False)
    viewer.user_permissions.add(Permission.objects.get(codename="view_fraudmodel"))
    client.force_login(viewer)

    assert client.get(reverse("admin:fraud_fraudmodel_change", args=[trained.pk])).status_code == 200
    switch = reverse("admin:fraud_fraudmodel_activate", args=[trained.pk])
    assert client.post(switch).status_code == 403
    trained.refresh_from_db()
    assert not trained.active


# --- The command -------------------------------------------------------------------------------


def run(*args, stderr=None) -> str:
    out = StringIO()
    call_command("train_model", *args, stdout=out, stderr=stderr or StringIO())
    return out.getvalue()


def test_the_command_trains_and_activates(card):
    history(card)

    output = run("--until", CUTOFF.isoformat(), "--since", "2026-04-05T12:00Z", "--activate")

    model = FraudModel.objects.get()
    assert model.active
    assert output.startswith("Trained fraud model v1 on 1,200 transactions (")
    assert f"ROC AUC            {model.metadata['holdout']['roc_auc']:.3f}" in output
    assert "Active now: decisions are scored with v1 (the live configuration version's model)." in output
    assert FraudConfigVersion.objects.get(state="live").model == model
    assert not ChangeRequest.objects.exists()  # an operator's command is not held for approval
    assert output.splitlines()[-1] == "1"  # the version alone on the last line
    assert AuditLog.objects.get(action=AuditLog.Action.MODEL_TRAINED).actor_label == "manage.py train_model"


def test_the_command_prints_its_progress_as_lines_into_a_log_file(card):
    history(card)
    log = StringIO()  # not a terminal

    run("--until", CUTOFF.isoformat(), "--since", "2026-04-05T12:00Z", stderr=log)

    # Steps: the 1,200 rows read (under a chunk: at once), then each tree of two fits of 200.
    lines = log.getvalue().splitlines()
    assert [line.split(", ")[0] for line in lines] == [
        "Training: 1,200/1,600 steps (75%)",
        "Training: 1,280/1,600 steps (80%)",
        "Training: 1,440/1,600 steps (90%)",
        "Training: 1,600/1,600 steps (100%)",
    ]
    assert lines[-1].startswith("Training: 1,600/1,600 steps (100%), done in ")


def test_the_command_refuses_too_few_labels_with_advice(card):
    history(card, rows=1000, fraud_share=0.012)

    with pytest.raises(
        CommandError, match=r"^Only 12 confirmed frauds .* File fraud reports or widen --since\.$"
    ):
        run("--until", CUTOFF.isoformat(), "--since", SINCE.isoformat())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--until", "yesterday"], "--until: give an ISO date"),
        (["--until", "2099-01-01"], "--until: give a moment in the past"),
        (["--since", "0001-01-01"], "--since: give a moment from 2000 to 2100"),
        (
            ["--since", "2026-06-10", "--until", "2026-06-12", "--label-delay-days", "3"],
            "--since must be before",
        ),
        (["--label-delay-days", "-1"], "--label-delay-days: give 0 to 365"),
        (["--min-frauds", "0"], "--min-frauds and --min-rows"),
    ],
)
def test_the_command_rejects_bad_options(db, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not FraudModel.objects.exists()
