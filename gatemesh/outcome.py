"""What one upstream call came to, classified once.

An `Outcome` is either an HTTP answer (`response` set, or `body` for an answer the proxy
served itself, such as a fallback) or a failure with no answer at all, named by its
`Reason`: `timeout`, `connect-failed` or `upstream-reset`. The endpoint layer builds one
per attempt from the client's exceptions and answers (`failure_reason`); the retry
decision (patterns/retry.py), the breakers, the metrics, the events and the reason
header all read that one classification instead of re-deriving it. An outcome *failed*
(for breakers, outlier detection and retries) when there was no answer or a 5xx.
"""

from __future__ import annotations

from dataclasses import dataclass

from .http.client import ClientResponse, ConnectFailed, UpstreamError
from .http.messages import Headers
from .reasons import STATUS, Reason
from .refusal import Refusal

# The reasons an attempt can fail with before any answer arrived.
NO_ANSWER = frozenset(
    {
        Reason.TIMEOUT,
        Reason.CONNECT_FAILED,
        Reason.UPSTREAM_RESET,
        Reason.UPSTREAM_PROTOCOL_ERROR,
        Reason.UPSTREAM_HEAD_TOO_LARGE,
        Reason.UPSTREAM_IDLE_TIMEOUT,
    }
)


def failure_reason(exc: BaseException) -> Reason:
    """The one mapping from the client's exceptions to a reason. Each client error names its
    own (issue 11): a protocol error (a malformed status line, an unasked 101, a head over
    the limit) is not a reset, and the retry policy does not retry it, since the upstream
    would answer the retry the same way."""
    if isinstance(exc, TimeoutError):
        return Reason.TIMEOUT
    if isinstance(exc, ConnectFailed):
        return Reason.CONNECT_FAILED
    if isinstance(exc, UpstreamError):
        return Reason(exc.reason)
    raise TypeError(f"not an upstream failure: {exc!r}")


@dataclass(slots=True)
class Outcome:
    """One call's result. `status` is the answer's status, or for a failure with no answer
    the status its reason maps to (504 for a timeout, ...), so every outcome has one."""

    status: int
    headers: Headers
    response: ClientResponse | None
    body: bytes
    attempts: int
    instance: str
    # On a failure: why there was no answer. On an answer: a reason worth telling the
    # client anyway (fallback, retry-budget-exhausted), sent as X-Gatemesh-Reason.
    reason: Reason | None = None
    message: str = ""  # the failure in a sentence (for the refusal's body)

    @classmethod
    def failure(cls, reason: Reason, message: str, attempts: int, instance: str) -> Outcome:
        return cls(STATUS[reason], [], None, b"", attempts, instance, reason, message)

    @property
    def answered(self) -> bool:
        """Whether an HTTP answer exists (live or served by the proxy)."""
        return self.reason not in NO_ANSWER

    def refusal(self) -> Refusal:
        """A failure with no answer as the Refusal the proxy turns into its own answer."""
        assert self.reason is not None
        return Refusal(self.reason, self.message)

    def release(self) -> None:
        if self.response is not None:
            self.response.release()


# Kept as the name the proxies and tests have used for a call's result.
CallResult = Outcome
