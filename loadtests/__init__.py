"""Locust load tests for gatemesh: users (``shop.py``, ``pages.py``), load shapes
(``shapes/``) and what they share (``common.py``). See docs/experiments.md."""
