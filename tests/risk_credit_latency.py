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

sys.path.insert(0, "tests")
import api_test
from signing import derive_secret, signed_headers
api_test.BINARY = os.path.abspath(sys.argv[1])
users, reads = int(sys.argv[2]), int(sys.argv[3])
d = tempfile.mkdtemp(); server = api_test.Server(os.path.join(d, "data")); server.start()
master = open(os.path.join(server.data_dir, "master.key"), "rb").read()
secret = derive_secret(master, "platform:0")
c = http.client.HTTPConnection("127.0.0.1", server.port)
n = 0
def call(method, path, body=None):
    global n; n += 1
    raw = b"" if body is None else json.dumps(body).encode()
    h = signed_headers("platform:0", secret, method, path, raw)
    if body is not None: h.update({"Content-Type": "application/json", "Idempotency-Key": f"m{n}"})
    c.request(method, path, body=raw if body is not None else None, headers=h)
    r = c.getresponse(); data = r.read(); assert r.status in (200, 201), data
for u in range(1, users + 1):
    call("POST", "/v1/users", {"id": u, "verified": True})
    call("POST", f"/v1/users/{u}/top-ups", {"amount": 1000, "bank": {"channel": 3, "reference": f"r{u}", "outcome": "approved"}})
for route in ["/v1/credit/users/{}", "/v1/risk/users/{}/decisions?limit=50", "/v1/users/{}"]:
    times = []
    for i in range(reads):
        t = time.perf_counter(); call("GET", route.format(1 + i % users)); times.append(time.perf_counter() - t)
    times.sort()
    print(f"{route}: {reads} reads, {users} users / {users} ledger transfers: p50 {times[len(times)//2]*1e6:.0f} us, p99 {times[int(len(times)*0.99)]*1e6:.0f} us")
server.stop(); shutil.rmtree(d)
