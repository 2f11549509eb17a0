"""Unit tests: the fake pool (fakepool.py) importable from every folder under tests/unit."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
