"""Steady load: ramp to ``-u`` users at ``-r`` per second, hold them until ``-t``.

locust -f loadtests/shop.py,loadtests/shapes/steady.py --headless -u 20 -r 10 -t 60s --host ...
"""

from locust import LoadTestShape


class SteadyShape(LoadTestShape):
    use_common_options = True

    def tick(self):
        opts = self.runner.environment.parsed_options
        if self.get_run_time() >= (opts.run_time or 60):
            return None
        return int(opts.num_users or 10), float(opts.spawn_rate or opts.num_users or 10)
