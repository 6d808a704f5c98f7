"""A progress bar for the steps of a long command, shown only once the command has run a second.

The importers and the store write a caseload in single calls (one transaction for the whole file),
with no per-row callback, so the bar counts the command's steps (read, check, write...) and shows
the current one with a spinner and the time elapsed. Quick commands never flash a bar; output that
is not a terminal (a pipe, a log file, the tests) never gets one.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


class Steps:
    """``with Steps(console, total=3) as steps: steps.step("Reading ..."); ...``"""

    def __init__(self, console: Console, *, total: int, delay: float = 1.0) -> None:
        self._console = console
        self._total = total
        self._delay = delay
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._timer: threading.Timer | None = None
        self._done = 0
        self._description = ""
        self._shown = False
        self._closed = False

    @property
    def shown(self) -> bool:
        return self._shown

    def __enter__(self) -> Steps:
        if self._console.is_terminal and not self._console.is_dumb_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self._console,
                transient=True,
            )
            self._task = self._progress.add_task("", total=self._total)
            self._timer = threading.Timer(self._delay, self._show)
            self._timer.daemon = True
            self._timer.start()
        return self

    def step(self, description: str) -> None:
        """Start the next step (the previous one counts as done)."""
        with self._lock:
            if self._description:
                self._done += 1
            self._description = description
            if self._progress is not None and self._task is not None:
                self._progress.update(self._task, description=description, completed=self._done)

    def _show(self) -> None:
        with self._lock:
            if self._progress is not None and not self._closed:
                self._progress.start()
                self._shown = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._closed = True
            if self._shown and self._progress is not None:
                self._progress.stop()
