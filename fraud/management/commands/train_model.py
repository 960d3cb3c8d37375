import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from cardsystem.audit import Actor
from cardsystem.progress import progress_bar
from fraud import training
from fraud.services import model_activate

MAX_LABEL_DELAY_DAYS = 365
FIRST_YEAR, LAST_YEAR = 2000, 2100  # as the API accepts transaction times


def moment(text: str, option: str) -> datetime.datetime:
    """An ISO date or date and time; without a zone, in the project's TIME_ZONE."""
    try:
        value = parse_datetime(text)
        if value is None:
            day = parse_date(text)
            value = datetime.datetime.combine(day, datetime.time()) if day else None
    except ValueError:
        value = None
    if value is None:
        raise CommandError(
            f"{option}: give an ISO date or date and time, e.g. 2026-06-15 or 2026-06-15T12:00."
        )
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise CommandError(f"{option}: give a moment from {FIRST_YEAR} to {LAST_YEAR}.")
    return timezone.make_aware(value) if timezone.is_naive(value) else value


class Command(BaseCommand):
    help = (
        "Train a fraud model (LightGBM gradient-boosted trees) on the decisions' stored features, labelled "
        "by the fraud reports filed by the cut-off, and store it as the next version with its metrics on "
        "the latest fifth of the rows. The new model is not active until staff activate it in the admin "
        "(or --activate)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--until",
            help="Train on what was known at this moment (ISO date or datetime; default now): the "
            "transactions before it and the fraud reports filed by then.",
        )
        parser.add_argument(
            "--since",
            help=f"First transaction time of the window (default the cut-off less "
            f"{training.DEFAULT_WINDOW.days} days).",
        )
        parser.add_argument(
            "--label-delay-days",
            type=float,
            default=training.DEFAULT_LABEL_DELAY.days,
            help="Leave out the transactions of the last days before --until: their fraud may not be "
            f"reported yet (default {training.DEFAULT_LABEL_DELAY.days}: every transaction before it).",
        )
        parser.add_argument(
            "--min-frauds",
            type=int,
            default=training.DEFAULT_MIN_FRAUDS,
            help=f"Refuse to train on fewer confirmed frauds (default {training.DEFAULT_MIN_FRAUDS}).",
        )
        parser.add_argument(
            "--min-rows",
            type=int,
            default=training.DEFAULT_MIN_ROWS,
            help=f"Refuse to train on fewer transactions (default {training.DEFAULT_MIN_ROWS}).",
        )
        parser.add_argument(
            "--activate",
            action="store_true",
            help="Make the new model the active one right away: a new fraud configuration version "
            "(the live one with this model), promoted at once and audited.",
        )

    def handle(self, *args, until, since, label_delay_days, min_frauds, min_rows, activate, **options):
        now = timezone.now()
        cutoff = moment(until, "--until") if until else now
        if cutoff > now:
            raise CommandError("--until: give a moment in the past; no report is known after now.")
        since = moment(since, "--since") if since else cutoff - training.DEFAULT_WINDOW
        if not 0 <= label_delay_days <= MAX_LABEL_DELAY_DAYS:
            raise CommandError(f"--label-delay-days: give 0 to {MAX_LABEL_DELAY_DAYS} days.")
        label_delay = datetime.timedelta(days=label_delay_days)
        if since >= cutoff - label_delay:
            raise CommandError(
                "--since must be before --until less the label delay "
                f"({training.format_moment(cutoff - label_delay)})."
            )
        if min_frauds < 2 or min_rows < 2:
            raise CommandError("--min-frauds and --min-rows: give at least 2.")
        actor = Actor.system("manage.py train_model")
        rows = training.training_rows(since=since, cutoff=cutoff, label_delay=label_delay).count()
        # Steps: each row read, then each tree of the two fits (held-out, then all rows).
        steps = rows + 2 * training.DEFAULT_ROUNDS
        try:
            with progress_bar(total=steps, desc="Training", stream=self.stderr) as bar:
                model = training.train(
                    actor=actor,
                    cutoff=cutoff,
                    since=since,
                    label_delay=label_delay,
                    min_frauds=min_frauds,
                    min_rows=min_rows,
                    progress=bar.update,
                )
        except training.NotEnoughLabels as error:
            raise CommandError(f"{error} File fraud reports or widen --since.") from None
        if activate:
            model = model_activate(model=model, actor=actor)
        self.stdout.write(report(model))
        self.stdout.write(str(model.version))  # alone on the last line, for scripts


def report(model) -> str:
    meta = model.metadata
    holdout = meta["holdout"]
    lines = [
        f"Trained fraud model v{model.version} on {meta['rows']:,} transactions "
        f"({meta['frauds']:,} confirmed frauds) from {_day(meta['since'])} to {_day(meta['until'])}, "
        f"with the fraud reports filed by {_day(meta['cutoff'])}.",
        f"Held out: the {holdout['rows']:,} transactions from {_day(holdout['from'])} on "
        f"({holdout['frauds']:,} frauds), scored by a model trained on the "
        f"{holdout['train_rows']:,} before them.",
        f"  ROC AUC            {holdout['roc_auc']:.3f}",
        f"  average precision  {holdout['average_precision']:.3f}",
        "  probability  flagged  precision  recall",
    ]
    for row in holdout["thresholds"]:
        precision = "—" if row["precision"] is None else f"{row['precision']:.0%}"
        lines.append(
            f"  {row['threshold']:>11.0%}  {row['flagged']:>7,}  {precision:>9}  {row['recall']:>6.0%}"
        )
    delays = meta.get("report_delay_days") or {}
    if delays.get("p90", 0) > meta["label_delay_days"]:
        lines.append(
            f"Note: a tenth of the frauds were reported more than {_span(delays['p90'])} after the "
            f"transaction, later than the label delay ({_span(meta['label_delay_days'])}): the latest "
            "rows may still hide unreported fraud. Consider a longer --label-delay-days."
        )
    if meta.get("without_features"):
        lines.append(f"Left out {meta['without_features']:,} transactions that stored no features.")
    lines.append(
        f"Active now: decisions are scored with v{model.version} (the live configuration version's model)."
        if model.active
        else "Not active: activate it in the admin (Fraud > Fraud models) or train with --activate."
    )
    return "\n".join(lines)


def _day(iso: str) -> str:
    return training.format_moment(datetime.datetime.fromisoformat(iso))


def _span(days: float) -> str:
    return f"{days:g} days" if days >= 1 or days == 0 else f"{days * 24:.1f} hours"
