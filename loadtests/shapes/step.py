"""Step load: four equal steps up to ``-u`` users, each a quarter of ``-t``. Where the
success rate or the latency breaks between two steps is the capacity.

    locust -f loadtests/shop.py,loadtests/shapes/step.py --headless -u 40 -t 80s --host ...
"""

from locust import LoadTestShape

STEPS = 4


class StepShape(LoadTestShape):
    use_common_options = True

    def tick(self):
        opts = self.runner.environment.parsed_options
        run_s, peak = float(opts.run_time or 60), int(opts.num_users or 20)
        t = self.get_run_time()
        if t >= run_s:
            return None
        step = min(STEPS, int(t // (run_s / STEPS)) + 1)
        return max(1, peak * step // STEPS), float(peak)
