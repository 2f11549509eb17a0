"""Spike: a base of a fifth of ``-u`` users, then all ``-u`` at once for the middle fifth
of ``-t``, then back to the base. Shows whether the system (and its rate limits,
concurrency limits and breakers) recovers after a sudden crowd.

    locust -f loadtests/shop.py,loadtests/shapes/spike.py --headless -u 50 -t 50s --host ...
"""

from locust import LoadTestShape

BASE_SHARE = 0.2  # users outside the spike, as a share of -u
SPIKE = (0.4, 0.6)  # the spike, as shares of -t


class SpikeShape(LoadTestShape):
    use_common_options = True

    def tick(self):
        opts = self.runner.environment.parsed_options
        run_s, peak = float(opts.run_time or 60), int(opts.num_users or 50)
        t = self.get_run_time()
        if t >= run_s:
            return None
        in_spike = SPIKE[0] * run_s <= t < SPIKE[1] * run_s
        return (peak if in_spike else max(1, int(peak * BASE_SHARE))), float(peak)
