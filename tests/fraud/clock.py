"""The fraud tests' fixed instant and its steps: the `clock` fixture (tests/fraud/conftest.py)
starts every test at NOW, and requests carry times relative to it."""

import datetime

NOW = datetime.datetime(2026, 6, 15, 12, 0, tzinfo=datetime.UTC)
SECOND = datetime.timedelta(seconds=1)
MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
TICK = datetime.timedelta(microseconds=1)
