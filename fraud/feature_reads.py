"""The feature statements of one attempt, each run at most once per set of windows.

A decision scored under two configurations (the live version and the one in shadow,
fraud/shadow.py) reads the card's history, the cross-card windows and the run of failed
card checks once when both use the same windows; only a window the shadow's rules set
differently costs its own statement. `scoring.assess` reads its features through one
of these."""

import datetime
from dataclasses import dataclass, field

from fraud import features
from fraud.configuration import versions_sql
from transactions.signals import AuthorizationAttempt


@dataclass
class FeatureReads:
    attempt: AuthorizationAttempt
    _done: dict = field(default_factory=dict)
    # (live, shadow) version numbers as the first statement read them, or None if not read
    versions: tuple | None = None

    def _once(self, key: tuple, read):
        if key not in self._done:
            self._done[key] = read()
        return self._done[key]

    def card_history(self, windows: features.TestingWindows) -> features.CardHistory:
        return self._once(
            ("card", windows.tested),
            lambda: features.card_history(self.attempt.card, self.attempt, windows),
        )

    def cross_card_activity(
        self, fraud_window: datetime.timedelta, windows: features.TestingWindows, *, tested_here: bool
    ) -> features.CrossCardActivity:
        key = ("cross", fraud_window, windows.merchant, windows.bin, windows.tested if tested_here else None)
        return self._once(
            key,
            lambda: features.cross_card_activity(
                self.attempt, fraud_window, windows, tested_here=tested_here
            ),
        )

    def card_and_cross_card(
        self, fraud_window: datetime.timedelta, windows: features.TestingWindows
    ) -> tuple[features.CardHistory, features.CrossCardActivity]:
        """Both reads a decision starts with, in one statement when neither was read yet;
        the cross-card one without the tested-card window (`tested_here=False`). That
        statement also reads which configuration versions are live and in shadow now
        (`versions`), so that a promotion made by another process decides this decision."""
        history_key = ("card", windows.tested)
        cross_key = ("cross", fraud_window, windows.merchant, windows.bin, None)
        if history_key not in self._done and cross_key not in self._done:
            history, cross, self.versions = features.card_and_cross_card(
                self.attempt.card, self.attempt, fraud_window, windows, also=versions_sql()
            )
            self._done[history_key], self._done[cross_key] = history, cross
        return self.card_history(windows), self.cross_card_activity(fraud_window, windows, tested_here=False)

    def card_check_failures_in_a_row(self, look_back: int) -> tuple[int, int]:
        return self._once(
            ("streak", look_back),
            lambda: features.card_check_failures_in_a_row(self.attempt.card, look_back),
        )
