"""Believable demo data and credentials for a local trial, written through the same
services as real data.

The issuer's BINs, then simulated weeks up to now (demo/simulation): cardholders with one
or two cards, balances, limits and a few blocked or lost cards, and their authorizations
decided by the fraud engine, with every kind of attack the simulator knows, more often
than in life, and the cardholders' fraud reports days later. A week before the end a
model is trained on the history and the labels known then, and activated: the last week
is scored by rules and model together, so the demo shows high-risk declines (59), open
alerts and cases, and the model's precision and recall as its labels arrive.
Deterministic for a seed (relative to the minute of seeding); only the card numbers
differ between runs, since the issuing service draws them from `secrets`, as it must.

It lives in the demo app, above every other: the history goes through `transactions` and
the fraud engine, and no app that decides may depend on the tools that exercise it.
"""

import contextlib
import datetime
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from bins.models import Bin
from bins.services import bin_create
from cards.models import Card, Cardholder
from cardsystem.audit import Actor, AuditAction, audit_record
from cardsystem.models import ApiClient
from cardsystem.roles import ADMINISTRATOR, AUDITOR, CARD_OPERATIONS, FRAUD_ANALYST, FRAUD_MANAGER
from cardsystem.services import api_client_create, api_client_revoke
from demo.simulation import World, plan_world, replay_world
from demo.simulation.population import BINS
from demo.simulation.replay import ReplayResult
from fraud import training
from fraud.cases import case_resolve
from fraud.models import Case, FraudAlert, FraudModel
from fraud.services import model_activate
from transactions.models import Transaction

# Attacks four times as often as in life (about 3% of the transactions instead of 1%):
# enough confirmed fraud in a few weeks to train a model and fill the fraud charts.
ATTACK_RATE = 4.0
# The model is trained and activated this long before the end, so the last days are
# decided with it and its precision and recall can be measured as reports arrive.
MODEL_SCORES_FOR = datetime.timedelta(days=7)
# Left out of training: the latest days before the cut-off, whose fraud is mostly not
# reported yet (cardholders report after three days at the median).
MODEL_LABEL_DELAY = datetime.timedelta(days=3)
# The analysts work the queue: a case whose latest alert is older than this at the end of
# the history is resolved, by what really happened; the newer ones are the open backlog.
ANALYSTS_DECIDE_WITHIN = datetime.timedelta(days=5)
MODEL_MIN_FRAUDS = training.DEFAULT_MIN_FRAUDS
MODEL_MIN_ROWS = training.DEFAULT_MIN_ROWS


class DatabaseNotEmpty(Exception):
    """The database holds data that is not the demo's; nothing was written."""


@dataclass(frozen=True)
class DemoSummary:
    bins: int
    days: int
    cardholders: int
    cards: int
    top_ups: int
    blocked: int
    lost: int
    transactions: dict[str, int]  # by reason ("approved", "insufficient_funds", ...)
    flagged: int
    open_alerts: int
    open_cases: int
    resolved_cases: int
    blocked_by_engine: int
    fraud_reports: int
    model: FraudModel | None  # trained and active, or None when the history was too short
    no_model_because: str = ""


def demo_world(*, cardholders: int, days: int, seed: int) -> World:
    """The demo's world: `days` of `cardholders` up to now, every kind of attack among
    them, ATTACK_RATE times as often as in life. No database access."""
    return plan_world(
        cardholders=cardholders, days=days, seed=seed, fraud="showcase", attack_rate=ATTACK_RATE
    )


def demo_data_present() -> bool:
    """Whether the demo was seeded here (its BINs exist): seeding again does nothing."""
    return Bin.objects.filter(bin__in=[fields["bin"] for fields in BINS]).exists()


def seed_demo_data(
    *, world: World, actor: Actor, progress: Callable[[], object] = lambda: None
) -> DemoSummary | None:
    """Fill an empty database with the demo BINs and the world (demo_world), with a model
    trained MODEL_SCORES_FOR before its end and activated (an operator's command: no
    second person), all or nothing. Returns None, writing nothing, when the demo data is
    already there; raises DatabaseNotEmpty when other data is. `progress` is called once
    per cardholder and once per authorization."""
    with transaction.atomic():
        if demo_data_present():
            return None
        if (
            Bin.objects.exists()
            or Cardholder.objects.exists()
            or Card.objects.exists()
            or Transaction.objects.exists()
        ):
            raise DatabaseNotEmpty(
                "The database already holds BINs, cardholders, cards or transactions; demo data goes "
                "only into an empty one. Nothing was written."
            )
        bins = [bin_create(actor=actor, **fields) for fields in BINS]
        trainer = _ModelTrainer(since=world.start, actor=actor)
        cutoff = world.end - MODEL_SCORES_FOR
        checkpoints = [(cutoff, trainer)] if cutoff - MODEL_LABEL_DELAY > world.start else []
        played = replay_world(world, actor=actor, progress=progress, checkpoints=checkpoints)
        resolved_cases = _work_the_queue(played, end=world.end, actor=actor)
        by_reason = dict(
            Transaction.objects.values_list("reason").annotate(n=Count("pk")).order_by("-n", "reason")
        )
    statuses = [card.status for holder in world.holders for card in holder.cards]
    return DemoSummary(
        bins=len(bins),
        days=round((world.end - world.start) / datetime.timedelta(days=1)),
        cardholders=played.cardholders,
        cards=played.cards,
        top_ups=played.top_ups,
        blocked=statuses.count("blocked"),
        lost=statuses.count("lost"),
        transactions=by_reason,
        flagged=Transaction.objects.filter(flagged=True).count(),
        open_alerts=FraudAlert.objects.filter(status=FraudAlert.Status.OPEN).count(),
        open_cases=Case.objects.filter(resolved_at__isnull=True).count(),
        resolved_cases=resolved_cases,
        blocked_by_engine=played.blocked_by_engine,
        fraud_reports=played.reports,
        model=trainer.model,
        no_model_because=trainer.failure or ("" if checkpoints else "too few days to train on"),
    )


def _work_the_queue(played: ReplayResult, *, end: datetime.datetime, actor: Actor) -> int:
    """What weeks of analysts' work leave behind, after the replay (which runs in minutes,
    long after the history's times): each alert and case dated from its transaction, as
    the engine opened it then, and each case whose latest alert is older than
    ANALYSTS_DECIDE_WITHIN resolved by the ground truth, as confirmed fraud when any of its
    transactions was fraud, a false positive otherwise (through case_resolve: audited, and
    confirmed fraud on an approval is a fraud report). Returns how many were resolved."""
    is_fraud = {outcome.transaction_id: outcome.is_fraud for outcome in played.outcomes if outcome.flagged}
    alerts = FraudAlert.objects.filter(transaction_id__in=is_fraud).select_related("transaction", "case")
    by_case: dict[int, list[FraudAlert]] = {}
    for alert in alerts:
        FraudAlert.objects.filter(pk=alert.pk).update(created_at=alert.transaction.transaction_time)
        by_case.setdefault(alert.case_id, []).append(alert)
    resolved = 0
    for case_alerts in by_case.values():
        times = [alert.transaction.transaction_time for alert in case_alerts]
        case = case_alerts[0].case
        case.due_at, case.opened_at = min(times) + (case.due_at - case.opened_at), min(times)
        case.save(update_fields=["opened_at", "due_at"])
        if max(times) < end - ANALYSTS_DECIDE_WITHIN:
            fraud = any(is_fraud[alert.transaction_id] for alert in case_alerts)
            resolution = Case.Resolution.CONFIRMED_FRAUD if fraud else Case.Resolution.FALSE_POSITIVE
            note = "Demo data: decided by the simulation's ground truth, as an analyst would have."
            case_resolve(case=case, resolution=resolution, actor=actor, note=note)
            resolved += 1
    return resolved


class _ModelTrainer:
    """The replay's checkpoint: train on the history and the reports known at its time,
    and activate the model, as an operator would with `train_model --activate`. Too few
    labels is no failure of the demo: the rules alone decide, and the reason is kept."""

    def __init__(self, *, since: datetime.datetime, actor: Actor):
        self.since = since
        self.actor = actor
        self.model: FraudModel | None = None
        self.failure = ""

    def __call__(self, cutoff: datetime.datetime) -> None:
        try:
            model = training.train(
                actor=self.actor,
                cutoff=cutoff,
                since=self.since,
                label_delay=MODEL_LABEL_DELAY,
                min_frauds=MODEL_MIN_FRAUDS,
                min_rows=MODEL_MIN_ROWS,
            )
        except training.NotEnoughLabels as error:
            self.failure = str(error).rstrip(".")
            return
        reason = "Demo data: trained on the simulated history and activated by manage.py seed_demo."
        self.model = model_activate(model=model, actor=self.actor, reason=reason)


@contextlib.contextmanager
def decisions_to_their_file_only():
    """Each authorization logs one line; weeks of them would bury the progress bar on the
    console, so while seeding (or simulating) they go to the decisions file only."""
    decisions = logging.getLogger("cardsystem.authorizations")
    before = decisions.propagate
    decisions.propagate = False
    try:
        yield
    finally:
        decisions.propagate = before


# --- Credentials for a local trial -------------------------------------------------------------

DEMO_USERNAME = "admin"
DEMO_CLIENT_NAME = "demo"
# One staff member per role, none a superuser: to try what each role may do, and four
# eyes (one administrator requests, another approves).
DEMO_ROLE_USERS = {
    "demo-analyst": FRAUD_ANALYST,
    "demo-manager": FRAUD_MANAGER,
    "demo-cardops": CARD_OPERATIONS,
    "demo-admin": ADMINISTRATOR,
    "demo-auditor": AUDITOR,
}


@dataclass(frozen=True)
class DemoCredentials:
    """What a local trial needs to log in; the password and key exist nowhere else."""

    username: str
    password: str
    client: ApiClient
    key: str
    revoked: list[str]
    role_users: dict[str, str]  # username -> role
    role_password: str


def demo_credentials_issue(*, actor: Actor) -> DemoCredentials:
    """For a local trial: make sure the superuser "admin" exists and give it a fresh random
    password, the same for one staff member per role (DEMO_ROLE_USERS, sharing another
    password, each in exactly their role), revoke earlier demo API clients ("demo",
    "demo-…") and create a new one with every scope. All or nothing. Raises
    PermissionDenied, writing nothing, unless DEBUG is on: an admin password is never
    reset this way in production."""
    if not settings.DEBUG:
        raise PermissionDenied(
            "Demo credentials are for a local trial with DEBUG=true; "
            "with DEBUG off no admin password is reset. Nothing was changed."
        )
    user_model = get_user_model()
    with transaction.atomic():
        user, _ = user_model._default_manager.get_or_create(**{user_model.USERNAME_FIELD: DEMO_USERNAME})
        password = secrets.token_urlsafe(24)
        validate_password(password, user)
        user.set_password(password)
        user.is_active = user.is_staff = user.is_superuser = True
        user.save()
        role_password = _demo_role_users_issue(user_model)
        earlier = ApiClient.objects.filter(
            Q(name=DEMO_CLIENT_NAME) | Q(name__startswith=f"{DEMO_CLIENT_NAME}-"), is_active=True
        )
        revoked = []
        for client in earlier:
            api_client_revoke(client=client, actor=actor)
            revoked.append(client.name)
        # ApiClient names are unique: each run's client gets its own. The time is written
        # with its separators: 14 digits in a row can look like a card number, refused.
        name = f"{DEMO_CLIENT_NAME}-{timezone.now():%Y-%m-%dT%H:%M:%S}-{secrets.token_hex(2)}"
        client, key = api_client_create(name=name, scopes=list(ApiClient.Scope.values), actor=actor)
        audit_record(
            actor=actor,
            action=AuditAction.DEMO_CREDENTIALS,
            target=user,
            details={"api_client": client.name, "revoked_api_clients": revoked},
        )
    return DemoCredentials(
        username=DEMO_USERNAME,
        password=password,
        client=client,
        key=key,
        revoked=revoked,
        role_users=dict(DEMO_ROLE_USERS),
        role_password=role_password,
    )


def _demo_role_users_issue(user_model) -> str:
    """Each demo role user, made or reset: staff, not a superuser, in their role only, with
    a fresh password (returned). An operator's command: not held for four eyes."""
    groups = {group.name: group for group in Group.objects.filter(name__in=DEMO_ROLE_USERS.values())}
    missing = sorted(set(DEMO_ROLE_USERS.values()) - set(groups))
    if missing:
        raise PermissionDenied(f"The roles {', '.join(missing)} are missing: run migrate first.")
    password = secrets.token_urlsafe(24)
    for username, role in DEMO_ROLE_USERS.items():
        user, _ = user_model._default_manager.get_or_create(**{user_model.USERNAME_FIELD: username})
        validate_password(password, user)
        user.set_password(password)
        user.is_active = user.is_staff = True
        user.is_superuser = False
        user.save()
        user.groups.set([groups[role]])
        user.user_permissions.clear()
    return password
