"""The progress of a long command, readable on a terminal and in a log file alike.

On a terminal: a tqdm bar, redrawn in place. Anywhere else (output sent to a file, a pipe,
a container's log) a bar redrawn with carriage returns would be one endless line, and
tqdm's default there is to print nothing at all; so a plain line is written instead, at
each tenth of the work, at least every LINE_EVERY seconds while it goes on, and once at
the end:

    Seeding: 2,340/9,876 steps (23%), 41 s
    ...
    Seeding: 9,876/9,876 steps (100%), done in 172 s

Every long command uses it the same way, on its own stderr (stdout keeps the result):

    with progress_bar(total=n, desc="Seeding", unit="step", stream=self.stderr) as bar:
        seed_demo_data(..., progress=bar.update)
"""

import sys
import time
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm

LINE_EVERY = 10.0  # seconds between two lines, at most, while the work goes on
STEPS = 10  # a line at each tenth of the work


def progress_bar(*, total: int, desc: str, unit: str = "step", stream=None) -> "Progress":
    """A tqdm bar on a terminal, a LineProgress elsewhere. `stream` defaults to stderr; a
    command passes its own `self.stderr` (Django's OutputWrapper, unwrapped here: it ends
    every write with a newline, which would break tqdm's redrawing)."""
    out = sys.stderr if stream is None else getattr(stream, "_out", stream)
    if out.isatty():
        return tqdm(total=total, file=out, unit=unit, desc=desc)
    return LineProgress(total=total, desc=desc, unit=unit, file=out)


class LineProgress:
    """tqdm's `update`, `close` and context manager, writing whole lines (see above)."""

    def __init__(
        self,
        *,
        total: int,
        desc: str,
        unit: str,
        file: TextIO,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.total, self.desc, self.unit, self.file, self.clock = total, desc, unit, file, clock
        self.done = 0
        self.started = self.last_line = clock()
        self.step = 0  # the last tenth written
        self.closed = False

    def update(self, n: int = 1) -> None:
        self.done += n
        now = self.clock()
        step = self.done * STEPS // self.total if self.total > 0 else 0
        # The last tenth is the closing line's.
        if (self.step < step < STEPS) or now - self.last_line >= LINE_EVERY:
            self.step = max(self.step, step)
            self._write(now, "")

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._write(self.clock(), "done in " if self.done >= self.total else "stopped after ")

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _write(self, now: float, prefix: str) -> None:
        self.last_line = now
        share = f" ({self.done * 100 // self.total}%)" if self.total > 0 else ""
        self.file.write(
            f"{self.desc}: {self.done:,}/{self.total:,} {self.unit}s{share}, "
            f"{prefix}{now - self.started:.0f} s\n"
        )
        self.file.flush()


Progress = tqdm | LineProgress
