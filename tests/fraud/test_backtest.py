"""Exact backtests: a simulated world decided through the real authorization path, then
decided again from what each decision stored (fraud/backtest.py, `manage.py backtest`)."""

import datetime
import json
from dataclasses import replace
from io import StringIO

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse

from cardsystem.audit import Actor
from demo.simulation import plan_world, replay_world
from fraud import backtest as backtest_module
from fraud import backtest_workers, rules
from fraud.admin import backtest as admin_backtest
from fraud.backtest import backtest, version_to_backtest
from fraud.configuration import version_config
from fraud.models import Rule
from fraud.services import model_activate
from fraud.versions import config_version_create, config_version_promote, live_version
from tests.authorizing import authorize
from tests.factories import TEST_ACTOR, UserFactory
from tests.fraud.clock import DAY, MINUTE, NOW
from tests.fraud.modelling import history, train
from transactions.models import Transaction

pytestmark = pytest.mark.django_db
SINCE, UNTIL = NOW - 20 * DAY, NOW + DAY


def _world():
    with time_machine.travel(NOW, tick=True):
        replay_world(
            plan_world(cardholders=12, days=10, seed=4, end=NOW, fraud="showcase"), actor=Actor.system("t")
        )
    return Transaction.objects.filter(card__isnull=False, transaction_time__gte=SINCE)


@pytest.fixture
def world():
    return _world()


def _run(*args) -> tuple[str, dict]:
    out = StringIO()
    call_command("backtest", *args, stdout=out)
    lines = out.getvalue().strip().splitlines()
    return out.getvalue(), json.loads(lines[-1])


def test_backtesting_the_live_version_reproduces_every_recorded_decision_code_and_score(world):
    report = backtest(version=version_to_backtest(None), since=SINCE, until=UNTIL)
    known = world.count()
    assert known > 100 and report.decisions == known and report.not_redecidable == 0
    assert report.changed == 0 and report.score_changes == 0 and not report.code_changes
    assert set(report.matrix) <= {("approve", "approve"), ("review", "review"), ("decline", "decline")}
    assert report.recorded.as_dict() == report.backtest.as_dict()  # rule hits, frauds and false declines too
    assert report.recorded.outcomes["decline"] == world.exclude(status="approved").count() > 0
    assert sum(report.recorded.fraud.values()) == world.filter(fraud_report__isnull=False).count() > 0


TAP = {"entry_mode": "contactless", "cardholder_verification": "no_cvm"}


def _stepped_up(card) -> list[Transaction]:
    """A lost card's thief on its round: taps at a department store, then a liquor store,
    then signs at an electronics shop, all within the hour (fraud 0020's step-up), on a card
    that bought in those categories two days before (by chip and PIN: none is new to it)."""
    for mcc in ("5311", "5921", "5732"):
        authorize(
            card,
            merchant_id=f"M-OLD-{mcc}",
            mcc=mcc,
            entry_mode="chip",
            cardholder_verification="pin_verified",
            transaction_time=NOW - 2 * DAY,
        )
    decided = [
        authorize(card, merchant_id="M-DEP", mcc="5311", transaction_time=NOW - 30 * MINUTE, **TAP),
        authorize(card, merchant_id="M-LIQ", mcc="5921", transaction_time=NOW - 10 * MINUTE, **TAP),
        authorize(
            card,
            merchant_id="M-TV",
            mcc="5732",
            transaction_time=NOW,
            entry_mode="chip",
            cardholder_verification="signature",
        ),
    ]
    assert [d.response_code for d in decided] == ["00", "1A", "1A"]
    return decided


def test_a_recorded_step_up_is_reproduced_by_backtesting_the_version_that_made_it(world, card):
    _stepped_up(card)
    made_them = live_version()
    report = backtest(version=made_them, since=SINCE, until=UNTIL)
    assert report.decisions == world.count() and report.not_redecidable == 0
    assert report.changed == 0 and report.score_changes == 0 and not report.code_changes
    assert report.recorded.as_dict() == report.backtest.as_dict()
    assert report.backtest.step_ups == world.filter(response_code="1A").count() >= 2
    assert report.backtest.rule_hits["unverified_cash_out_again"] >= 2
    # Another version live since: backtesting the one that made them still reproduces them.
    for code in ("unverified_cash_out_again", "unverified_cash_out_new_category"):
        rule = Rule.objects.get(code=code)
        rule.enabled = False
        rule.save()
    off = config_version_create(actor=TEST_ACTOR, reason="No step-up.")
    config_version_promote(version=off, actor=TEST_ACTOR, reason="No step-up.")
    again = backtest(version=version_to_backtest(made_them.number), since=SINCE, until=UNTIL)
    assert again.changed == 0 and not again.code_changes
    lifted = backtest(version=version_to_backtest(None), since=SINCE, until=UNTIL)
    assert lifted.code_changes == {("1A", "00"): report.backtest.step_ups}
    assert lifted.backtest.step_ups == 0 and lifted.backtest.false_declines == report.backtest.false_declines


def test_beside_an_active_model_every_decision_and_score_is_reproduced_too(card):
    history(card, since=SINCE - 40 * DAY, until=SINCE - DAY)  # stored features only: not re-decidable
    model_activate(model=train(cutoff=SINCE, since=SINCE - 41 * DAY), actor=TEST_ACTOR)
    world = _world()
    report = backtest(version=version_to_backtest(None), since=SINCE, until=UNTIL)
    assert version_config(version_to_backtest(None)).model is not None
    assert report.decisions == world.count() > 100 and report.not_redecidable == 0
    assert report.backtest.rule_hits["model"] == report.decisions  # the model scored every one
    assert report.changed == 0 and report.score_changes == 0
    everything = backtest(version=version_to_backtest(None), since=SINCE - 50 * DAY, until=UNTIL)
    assert everything.not_redecidable == Transaction.objects.filter(transaction_time__lt=SINCE).count() > 0


def test_a_wrong_pin_recorded_before_55_existed_is_re_decided_as_55(card):
    wrong, right = (
        authorize(card, entry_mode="chip", cardholder_verification=cvm, transaction_time=NOW - n * DAY)
        for n, cvm in ((2, "pin_failed"), (1, "pin_verified"))
    )
    assert (wrong.response_code, right.response_code) == ("55", "00")
    report = backtest(version=version_to_backtest(None), since=SINCE, until=UNTIL)
    assert report.decisions == 2 and report.changed == 0
    # As the engine answered before: approved, the PIN failed or not.
    Transaction.objects.filter(pk=wrong.pk).update(status="approved", response_code="00", reason="approved")

    report = backtest(version=version_to_backtest(None), since=SINCE, until=UNTIL)

    assert report.changed == 1 and report.code_changes == {("00", "55"): 1}


def test_a_draft_with_a_lower_decline_threshold_declines_exactly_the_answers_at_or_above_it(world):
    """The approvals and the step-ups (1A) scored at or above the new threshold: 59 comes
    before 1A."""
    live = version_to_backtest(None)
    config = version_config(live)
    threshold = 20  # below the points of the approvals the showcase world has left
    draft = config_version_create(
        actor=Actor.system("t"),
        reason="Stricter.",
        config=replace(config, decline_threshold=threshold, version=None),
    )
    between = world.filter(risk_score__gte=threshold, risk_score__lt=config.decline_threshold)
    expected = {(code, "59"): between.filter(response_code=code).count() for code in ("00", "1A")}
    assert expected[("00", "59")] > 0
    report = backtest(version=draft, since=SINCE, until=UNTIL)
    assert report.changed == sum(expected.values())
    assert report.code_changes == {change: n for change, n in expected.items() if n}
    assert report.score_changes == 0


def test_the_lean_rules_decide_every_stored_decision_as_the_detailed_ones_without_details(world):
    config = version_config(version_to_backtest(None))
    rows = list(world.values_list(*backtest_module.ROW_FIELDS, "pk"))
    formatted = []
    for row in rows:
        facts, values, _ = backtest_module._decidable(row, datetime.UTC)
        detailed = rules.evaluate(facts, dict(values), config, None)
        formatted.extend(f.detail for f in detailed.factors)
        lean = rules.evaluate(facts, dict(values), config, None, details=False)
        assert [(f.code, f.score) for f in lean.factors] == [(f.code, f.score) for f in detailed.factors]
        assert (lean.score, lean.level, lean.decline, lean.review) == (
            detailed.score,
            detailed.level,
            detailed.decline,
            detailed.review,
        )
        assert (lean.restriction, lean.block_card) == (detailed.restriction, detailed.block_card)
        assert all(f.detail == "" for f in lean.factors if f.code in rules.RULES)
    assert len(rows) > 100 and any(formatted)


@pytest.mark.parametrize("decline_threshold", [None, 30])
def test_the_backtest_counts_the_same_with_the_rules_details_formatted(world, monkeypatch, decline_threshold):
    live = version_to_backtest(None)
    version = live
    if decline_threshold is not None:
        config = replace(version_config(live), decline_threshold=decline_threshold, version=None)
        version = config_version_create(actor=Actor.system("t"), reason="Stricter.", config=config)
    lean = backtest(version=version, since=SINCE, until=UNTIL).as_dict()
    evaluate, details = rules.evaluate, []

    def detailed(*args, **kwargs):
        verdict = evaluate(*args, **{**kwargs, "details": True})
        details.extend(f.detail for f in verdict.factors)
        return verdict

    monkeypatch.setattr(backtest_module.rules, "evaluate", detailed)
    assert backtest(version=version, since=SINCE, until=UNTIL).as_dict() == lean
    assert lean["decisions"] > 100 and any(details)  # the details were formatted that time


def test_json_prints_one_object_alone_on_the_last_line_with_decisions_and_changed(world):
    text, data = _run("--since", SINCE.isoformat(), "--until", UNTIL.isoformat(), "--json")
    assert text.strip().count("\n") == 0  # the object alone
    assert data["decisions"] == world.count() and data["changed"] == 0
    assert data["version"] == version_to_backtest(None).number
    assert data["recorded"]["outcomes"] == data["backtest"]["outcomes"]


def test_the_command_prints_its_progress_as_lines_into_a_log_file(world):
    log = StringIO()  # not a terminal
    call_command(
        "backtest", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat(), stdout=StringIO(), stderr=log
    )
    decisions = world.count()
    lines = log.getvalue().splitlines()
    assert lines[-1].startswith(f"Backtesting: {decisions:,}/{decisions:,} decisions (100%), done in ")


def test_the_readable_report_counts_and_names_rules():
    out = StringIO()
    call_command("backtest", "--since", "2026-01-01", "--until", "2026-01-02", stdout=out)
    assert "Re-decided: 0; changed: 0" in out.getvalue()


def test_since_is_inclusive_and_until_exclusive(world):
    first = world.order_by("transaction_time").first().transaction_time
    at_start = world.filter(transaction_time=first).count()
    assert backtest(version=version_to_backtest(None), since=first, until=first).decisions == 0
    report = backtest(version=version_to_backtest(None), since=first, until=first + DAY / 86400 / 1000)
    assert report.decisions == at_start
    assert backtest(
        version=version_to_backtest(None), since=first + DAY / 86400 / 1000, until=UNTIL
    ).decisions == (world.count() - at_start)


def test_decisions_stored_without_the_rules_inputs_are_counted_not_re_decided(world):
    old = world.order_by("transaction_time").first()
    Transaction.objects.filter(pk=old.pk).update(risk_features={"amount_usd": 1.0})
    report = backtest(version=version_to_backtest(None), since=SINCE, until=UNTIL)
    assert report.not_redecidable == 1 and report.decisions == world.count() - 1


def test_a_row_cap_stops_and_says_so(world):
    report = backtest(version=version_to_backtest(None), since=SINCE, until=UNTIL, limit=10)
    assert report.truncated and report.decisions == 10


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--since", "yesterday", "--until", "2026-01-02"], "--since"),
        (["--since", "2026-01-01", "--until", "2026-13-02"], "--until"),
        (["--since", "2026-01-02", "--until", "2026-01-01"], "--until"),
        (["--since", "2026-01-01", "--until", "2026-01-02", "--version", "999"], "--version"),
        (["--since", "2026-01-01", "--until", "2026-01-02", "--workers", "0"], "--workers"),
    ],
)
def test_bad_arguments_name_the_option(args, option):
    with pytest.raises(CommandError, match=option):
        call_command("backtest", *args, stdout=StringIO())


# --- The admin page ------------------------------------------------------------------------------


def _backtest_url(version) -> str:
    return reverse("admin:fraud_fraudconfigversion_backtest", args=[version.pk])


def test_a_version_page_links_its_backtest_and_the_page_shows_the_report(world, admin_client):
    live = version_to_backtest(None)
    page = admin_client.get(reverse("admin:fraud_fraudconfigversion_change", args=[live.pk])).content.decode()
    assert _backtest_url(live) in page
    response = admin_client.post(
        _backtest_url(live), {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert f"<td>re-decided</td><td>{world.count()}</td>" in html
    assert "<td>changed (decision, response code or score)</td><td>0</td>" in html
    assert "Each rule&#x27;s hits" in html or "Each rule's hits" in html
    assert "fraud caught" in html and "false declines" in html


def test_the_admin_page_caps_its_rows_and_says_so(world, admin_client, monkeypatch):
    monkeypatch.setattr(admin_backtest, "MAX_ROWS", 5)
    live = version_to_backtest(None)
    html = admin_client.post(
        _backtest_url(live), {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
    ).content.decode()
    assert "only the earliest 5 were backtested" in html
    assert "<td>re-decided</td><td>5</td>" in html


def test_the_admin_page_names_a_bad_window(admin_client):
    live = version_to_backtest(None)
    response = admin_client.post(
        _backtest_url(live), {"since": "2026-01-02T00:00", "until": "2026-01-01T00:00"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {"until": ["Must be after since."]}


def test_the_admin_page_is_refused_to_staff_who_may_not_view_versions_and_run_only_by_editors(world, client):
    live = version_to_backtest(None)
    clerk = UserFactory(username="clerk", is_superuser=False)
    clerk.user_permissions.set(Permission.objects.filter(codename="view_transaction"))
    client.force_login(clerk)
    window = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}

    assert client.get(_backtest_url(live)).status_code == 403
    assert client.post(_backtest_url(live), window).status_code == 403

    # Viewing versions shows the page, without the button; running it is editing work.
    clerk.user_permissions.add(Permission.objects.get(codename="view_fraudconfigversion"))
    page = client.get(_backtest_url(live))
    assert page.status_code == 200 and "Run the backtest" not in page.content.decode()
    assert client.post(_backtest_url(live), window).status_code == 403

    clerk.user_permissions.add(Permission.objects.get(codename="edit_fraud_configuration"))
    response = client.post(_backtest_url(live), window)
    assert (
        response.status_code == 200
        and f"<td>re-decided</td><td>{world.count()}</td>" in response.content.decode()
    )


# --- A long window across processes ---------------------------------------------------------------


# Committed rows: other processes see no uncommitted ones.
@pytest.mark.django_db(transaction=True)
def test_two_workers_split_the_window_and_add_up_to_the_single_process_report(monkeypatch):
    # A transactional test may start from a database an earlier one emptied: rules that
    # fire on the simulated world, and a live version of them.
    for code, name, score in (("foreign_country", "Abroad", 10), ("velocity_count", "Velocity", 20)):
        Rule.objects.get_or_create(code=code, defaults={"name": name, "score": score})
    if live_version() is None:
        config_version_promote(
            version=config_version_create(actor=TEST_ACTOR, reason="The start."),
            actor=TEST_ACTOR,
            reason="Go.",
        )
    world = _world()
    monkeypatch.setattr(backtest_workers, "MIN_PER_WORKER", 10)
    live = version_to_backtest(None)
    windows = backtest_workers.parts(world, SINCE, UNTIL, 2)
    assert len(windows) == 2 and windows[0][0] == SINCE and windows[0][1] == windows[1][0]
    assert windows[1][1] == UNTIL
    split = backtest(version=live, since=SINCE, until=UNTIL, workers=2).as_dict()
    alone = backtest(version=live, since=SINCE, until=UNTIL).as_dict()
    assert split.pop("workers") == 2 and alone.pop("workers") == 1
    assert split == alone
    assert split["decisions"] == world.count() > 100 and split["changed"] == 0
    text, data = _run("--since", SINCE.isoformat(), "--until", UNTIL.isoformat(), "--json", "--workers", "2")
    assert text.strip().count("\n") == 0 and data["workers"] == 2
    assert data["decisions"] == split["decisions"] and data["changed"] == 0


def test_a_window_too_small_to_share_or_a_transaction_in_progress_stays_in_one_process(world, monkeypatch):
    live = version_to_backtest(None)
    assert backtest_workers.parts(world, SINCE, UNTIL, 2) == [(SINCE, UNTIL)]
    monkeypatch.setattr(backtest_workers, "MIN_PER_WORKER", 10)
    assert len(backtest_workers.parts(world, SINCE, UNTIL, 2)) == 2
    # Inside the test's transaction: other processes would not see these rows.
    report = backtest(version=live, since=SINCE, until=UNTIL, workers=2)
    assert report.workers == 1 and report.decisions == world.count() and report.changed == 0
