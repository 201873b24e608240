#!/usr/bin/env python3
"""Client-observed latency of GET /v1/credit/users/{id} and GET /v1/risk/users/{id}/decisions,
beside the plain user read, on one keep-alive connection to a fresh `capillary serve`.

    python3 tests/risk_credit_latency.py BUILD/capillary USERS READS    (from the source directory)

Opens USERS users with one top-up each (so the ledger holds USERS transfers: the credit read
walks them all, docs/credit.md), then times READS signed GETs of each route.
"""
import http.client
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api_test  # noqa: E402  (its Server runs `capillary serve`)
from signing import derive_secret, signed_headers  # noqa: E402

PLATFORM = "platform:0"
ROUTES = ["/v1/credit/users/{}", "/v1/risk/users/{}/decisions?limit=50", "/v1/users/{}"]


class Client:
    """Signed requests as the platform on one keep-alive connection."""

    def __init__(self, server):
        with open(os.path.join(server.data_dir, "master.key"), "rb") as key:
            self.secret = derive_secret(key.read(), PLATFORM)
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port)
        self.sent = 0

    def call(self, method, path, body=None):
        self.sent += 1
        raw = b"" if body is None else json.dumps(body).encode()
        headers = signed_headers(PLATFORM, self.secret, method, path, raw)
        if body is not None:
            headers.update({"Content-Type": "application/json", "Idempotency-Key": f"m{self.sent}"})
        self.connection.request(method, path, body=raw if body is not None else None, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.status not in (200, 201):
            raise RuntimeError(f"{method} {path}: {response.status} {data!r}")


def main():
    api_test.BINARY = os.path.abspath(sys.argv[1])
    users, reads = int(sys.argv[2]), int(sys.argv[3])
    directory = tempfile.mkdtemp(prefix="capillary-risk-credit-latency-")
    server = api_test.Server(os.path.join(directory, "data"))
    server.start()
    try:
        client = Client(server)
        for user in range(1, users + 1):
            client.call("POST", "/v1/users", {"id": user, "verified": True})
            client.call("POST", f"/v1/users/{user}/top-ups",
                        {"amount": 1000, "bank": {"channel": 3, "reference": f"r{user}", "outcome": "approved"}})
        for route in ROUTES:
            times = []
            for i in range(reads):
                start = time.perf_counter()
                client.call("GET", route.format(1 + i % users))
                times.append(time.perf_counter() - start)
            times.sort()
            print(f"{route}: {reads} reads, {users} users / {users} ledger transfers: "
                  f"p50 {times[len(times) // 2] * 1e6:.0f} us, p99 {times[int(len(times) * 0.99)] * 1e6:.0f} us")
    finally:
        server.stop()
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
