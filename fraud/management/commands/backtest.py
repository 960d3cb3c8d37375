import json

from django.core.management.base import BaseCommand, CommandError

from cardsystem.progress import progress_bar
from fraud.backtest import OUTCOMES, Report, backtest, backtest_window, version_to_backtest
from fraud.backtest_workers import MIN_PER_WORKER
from fraud.management.commands.train_model import moment


class Command(BaseCommand):
    help = (
        "Decide again every stored decision on a known card whose transaction_time is in "
        "[--since, --until) under a fraud configuration version (default the live one), from the values "
        "stored with each decision, and compare with what was recorded."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # The contract's --version is the configuration's: it replaces Django's own
        # --version (the framework's release, which `manage.py version` still prints).
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--version", type=int, help="The version's number (default: the live version).")
        parser.add_argument(
            "--since", required=True, help="First transaction time, inclusive (ISO date or datetime)."
        )
        parser.add_argument(
            "--until", required=True, help="Last transaction time, exclusive (ISO date or datetime)."
        )
        parser.add_argument(
            "--json", action="store_true", help="Print one JSON object alone on the last line."
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=2,
            help="Processes to share a long window between (default 2; below "
            f"{MIN_PER_WORKER:,} decisions a process, fewer).",
        )

    def handle(self, *args, **options):
        since, until = moment(options["since"], "--since"), moment(options["until"], "--until")
        if until <= since:
            raise CommandError("--until: must be after --since.")
        if options["workers"] < 1:
            raise CommandError("--workers: at least 1.")
        try:
            version = version_to_backtest(options["version"])
        except LookupError as error:
            raise CommandError(f"--version: {error}.") from None
        total = backtest_window(since=since, until=until).count()
        with progress_bar(total=total, desc="Backtesting", unit="decision", stream=self.stderr) as bar:
            report = backtest(
                version=version, since=since, until=until, workers=options["workers"], progress=bar.update
            )
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), sort_keys=True))
        else:
            self.stdout.write(readable(report))


def readable(report: Report) -> str:
    data = report.as_dict()
    lines = [
        f"Backtest of version {report.version} on transactions from {data['since']} (inclusive) "
        f"to {data['until']} (exclusive)",
        f"Re-decided: {report.decisions}; changed: {report.changed} "
        f"(scores changed: {report.score_changes}); "
        f"not re-decidable (stored before the rules' inputs were): {report.not_redecidable}",
        f"{'':24}{'recorded':>10}{'backtest':>10}",
    ]
    rec, new = data["recorded"], data["backtest"]
    for outcome in OUTCOMES:
        lines.append(f"{outcome:24}{rec['outcomes'][outcome]:>10}{new['outcomes'][outcome]:>10}")
    for key in ("fraud_caught", "fraud_reviewed", "fraud_missed", "false_declines"):
        lines.append(f"{key.replace('_', ' '):24}{rec[key]:>10}{new[key]:>10}")
    lines.append("Rule hits:")
    for code in sorted(set(rec["rule_hits"]) | set(new["rule_hits"])):
        lines.append(f"  {code:22}{rec['rule_hits'].get(code, 0):>10}{new['rule_hits'].get(code, 0):>10}")
    if data["matrix"]:
        lines.append("Recorded -> backtest: " + ", ".join(f"{k}: {v}" for k, v in data["matrix"].items()))
    if report.assumed_limits_and_funds:
        lines.append(f"Assumed to pass limits and balance (were blocked): {report.assumed_limits_and_funds}")
    if report.other_windows:
        lines.append(
            f"Decided by a version with other feature windows (counts inexact): {report.other_windows}"
        )
    return "\n".join(lines)
