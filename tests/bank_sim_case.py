"""A test case whose `capillary serve` has bank channels: a real `capillary bank-sim` on a free port
with four channels, each a kind of bank a card call can meet.

    class MyTest(BankSimTestCase):
        first_party = 7000        # ids handed out by party(); keep classes apart
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import api_test  # its Server runs `capillary serve`
from tenant_test_case import TenantTestCase

GOOD, BAD, SLOW, TARDY = 1, 2, 3, 4

# No capacity limit in reach: GOOD never errs or declines, BAD errs on every call (HTTP 500: the
# bank did nothing), SLOW approves everything but takes its time.
BANKS = {
    "seed": 7,
    "breaker": {"window_s": 10, "calls_min": 50, "error_rate_ppm_max": 200000, "latency_ms_p99_max": 2000,
                "open_s": 5, "half_open_probes": 3},
    "channels": [
        {"id": GOOD, "name": "good-direct",
         "simulation": {"capacity_tps": 1000, "latency_ms_median": 1, "latency_ms_p99": 2,
                        "error_ppm": 0, "decline_ppm": 0},
         "debit_card": {"rate_per_s": 1000, "burst": 100, "concurrency_max": 100},
         "credit_card": {"rate_per_s": 1000, "burst": 100, "concurrency_max": 100}},
        {"id": BAD, "name": "bad-direct",
         "simulation": {"capacity_tps": 1000, "latency_ms_median": 1, "latency_ms_p99": 2,
                        "error_ppm": 1000000, "decline_ppm": 0},
         "debit_card": {"rate_per_s": 1000, "burst": 100, "concurrency_max": 100},
         "credit_card": {"rate_per_s": 1000, "burst": 100, "concurrency_max": 100}},
        {"id": SLOW, "name": "slow-direct",
         "simulation": {"capacity_tps": 1000, "latency_ms_median": 1200, "latency_ms_p99": 1400,
                        "error_ppm": 0, "decline_ppm": 0},
         "debit_card": {"rate_per_s": 1000, "burst": 100, "concurrency_max": 100},
         "credit_card": {"rate_per_s": 1000, "burst": 100, "concurrency_max": 100}},
        {"id": TARDY, "name": "tardy-direct",
         "simulation": {"capacity_tps": 1000, "latency_ms_median": 3000, "latency_ms_p99": 3200,
                        "error_ppm": 0, "decline_ppm": 0},
         "debit_card": {"rate_per_s": 1000, "burst": 100, "concurrency_max": 100},
         "credit_card": {"rate_per_s": 1000, "burst": 100, "concurrency_max": 100}},
    ],
    "routes": [{"bank_code": "GOOD", "channels": [GOOD]}, {"bank_code": "BAD", "channels": [BAD]},
               {"bank_code": "SLOW", "channels": [SLOW]}, {"bank_code": "TARDY", "channels": [TARDY]}],
}


class BankSim:
    """One `capillary bank-sim` on a free port."""

    def __init__(self, directory):
        self.config = os.path.join(directory, "banks.json")
        with open(self.config, "w") as out:
            json.dump(BANKS, out)
        self.port = api_test.free_port()
        self.log_path = os.path.join(directory, "bank-sim.log")
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [api_test.BINARY, "bank-sim", "--config", self.config, "--listen", f"127.0.0.1:{self.port}"],
                stdout=log, stderr=log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"bank-sim exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("bank-sim not ready within 30 s")

    def statement(self, channel):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/banks/{channel}/statement", timeout=10) as answer:
            return answer.read().decode()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


class BankSimTestCase(TenantTestCase):
    @classmethod
    def setUpClass(cls):
        cls.bank_directory = tempfile.mkdtemp(prefix="capillary-banks-")
        cls.bank = BankSim(cls.bank_directory)
        cls.server_args = ("--banks", cls.bank.config, "--bank-sim", f"127.0.0.1:{cls.bank.port}")
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.bank.stop()
        shutil.rmtree(cls.bank_directory)
