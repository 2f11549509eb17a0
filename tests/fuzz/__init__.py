"""Property-based fuzzing of the HTTP core (hypothesis): `python -m tests.fuzz --minutes N`."""
