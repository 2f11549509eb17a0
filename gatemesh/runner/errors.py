"""The one exception of the runner package."""

from __future__ import annotations


class RunnerError(RuntimeError):
    """A topology could not be started or changed.

    ``str(err)`` is one sentence saying what is wrong and what to do; ``component`` names
    the component at fault (if one is) and ``log_tail`` holds the last lines of its log.
    """

    def __init__(self, message: str, component: str | None = None, log_tail: str = "") -> None:
        super().__init__(message)
        self.component = component
        self.log_tail = log_tail
