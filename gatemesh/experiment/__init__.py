"""Pattern experiments: the same load and the same fault, with a resilience pattern off and
on, placed at the edge (the gateway) or in the mesh (the sidecars), measured with Locust
and written up as a report with charts.

    gatemesh experiment breaker --at both --duration 30 --out reports/breaker
    gatemesh experiment all --out reports/all

The parts, in the order an experiment uses them:

- ``designs``: one ``Design`` per pattern: the fault, the policies of each arm, the metric
  the pattern exists to move;
- ``lab``: the running edge+mesh topology (an own one on a locked port base, or a
  ``gatemesh up`` run): policies, metrics, events, request counts, scaling; faults go
  through ``gatemesh.faults``;
- ``load``: Locust as a separate process (``loadtests/pages.py``), and its request log;
- ``arm``: one arm: policies in force, load, the fault in the middle third, the record;
- ``analysis``: the record turned into figures per phase and per page route;
- ``summary``: the arms compared on the metric, with one sentence each;
- ``charts`` and ``report``: PNGs, report.md and report.html;
- ``run``: one experiment (every arm) or all of them, with a progress line.

Importing this package is light (no matplotlib or numpy): the CLI lists the patterns from
``designs``; ``run`` pulls in the heavy parts when an experiment starts.
"""

from .designs import DESIGNS, PATTERNS, Design

__all__ = ["DESIGNS", "PATTERNS", "Design"]
