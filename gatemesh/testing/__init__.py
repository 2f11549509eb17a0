"""gatemesh's pytest plugin (registered as the ``pytest11`` entry point ``gatemesh``)."""
