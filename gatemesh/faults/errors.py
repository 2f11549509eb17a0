"""The one exception the fault API raises: a sentence a person can act on."""

from __future__ import annotations


class FaultError(Exception):
    """A fault could not be added, removed or listed; the message says why and what to do."""
