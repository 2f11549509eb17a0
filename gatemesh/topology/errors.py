"""The one exception of the topology package."""


class TopologyError(ValueError):
    """A topology cannot be built as asked; the message is one sentence saying what to do."""
