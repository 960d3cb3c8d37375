"""cardsystem/progress.py: a long command's progress, on a terminal and in a log file."""

import re
from io import StringIO

from django.core.management.base import OutputWrapper
from tqdm import tqdm

from cardsystem.progress import LINE_EVERY, LineProgress, progress_bar


class Terminal(StringIO):
    def isatty(self):
        return True


class Clock:
    """Seconds that move only when the test says so."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_output_that_is_not_a_terminal_gets_a_line_at_each_tenth_and_one_at_the_end():
    log = StringIO()
    with progress_bar(total=200, desc="Seeding", stream=log) as bar:
        assert isinstance(bar, LineProgress)
        for _ in range(200):
            bar.update()
    lines = log.getvalue().splitlines()
    shares = [line.split(", ")[0] for line in lines]
    assert shares == [f"Seeding: {n}/200 steps ({n // 2}%)" for n in range(20, 201, 20)]
    assert lines[0] == "Seeding: 20/200 steps (10%), 0 s"
    assert re.fullmatch(r"Seeding: 200/200 steps \(100%\), done in \d+ s", lines[-1])


def test_a_slow_tenth_still_gets_a_line_every_few_seconds():
    log, clock = StringIO(), Clock()
    bar = LineProgress(total=10_000, desc="Backtesting", unit="decision", file=log, clock=clock)
    bar.update(5)
    assert log.getvalue() == ""  # under a tenth, and no time has passed
    clock.now += LINE_EVERY
    bar.update(5)
    assert log.getvalue() == "Backtesting: 10/10,000 decisions (0%), 10 s\n"
    clock.now += LINE_EVERY / 2
    bar.update(5)
    assert log.getvalue().count("\n") == 1


def test_work_that_stops_early_says_so_rather_than_done():
    log, clock = StringIO(), Clock()
    with LineProgress(total=50, desc="Issuing", unit="card", file=log, clock=clock) as bar:
        bar.update(3)
        clock.now += 2
    assert log.getvalue() == "Issuing: 3/50 cards (6%), stopped after 2 s\n"


def test_nothing_to_do_is_one_line_without_a_share():
    log = StringIO()
    with progress_bar(total=0, desc="Backtesting", unit="decision", stream=log):
        pass
    assert re.fullmatch(r"Backtesting: 0/0 decisions, done in 0 s\n", log.getvalue())


def test_a_commands_own_stderr_is_written_to_directly():
    # Django's OutputWrapper ends every write with a newline: the helper writes to the
    # stream under it, and decides by that stream whether it is a terminal.
    log, terminal = StringIO(), Terminal()
    with progress_bar(total=1, desc="Seeding", stream=OutputWrapper(log)) as bar:
        bar.update()
    assert log.getvalue().startswith("Seeding: 1/1 steps (100%), done in ")
    with progress_bar(total=1, desc="Seeding", stream=OutputWrapper(terminal)) as bar:
        assert isinstance(bar, tqdm)
        bar.update()
    assert "\r" in terminal.getvalue() and "1/1" in terminal.getvalue()
