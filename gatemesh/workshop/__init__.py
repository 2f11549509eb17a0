"""Workshop mode: labs that check themselves, and one reset between them.

    gatemesh lab list | start N | hint [N] | check [N] | reset
    gatemesh reset

See docs/workshop/README.md for the instructor's plan and one page per lab.
"""

from .context import LabContext, LabError
from .lab import Lab, Verdict
from .labs import LABS, lab
from .reset import reset_all

__all__ = ["LABS", "Lab", "LabContext", "LabError", "Verdict", "lab", "reset_all"]
