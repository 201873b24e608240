#!/usr/bin/env python3
"""Crash test of the payments API: kill -9 the server while checkouts are in flight, restart it,
and check that every payment it acknowledged is there, paid in full, that no buyer paid twice for
one order, and that `capillary verify` passes on the data directory.

    payments_crash_test.py BUILD/capillary [--kills N] [--seed S]

Each round sends batches (create orders, pay them from wallets) from a few client threads, kills
the server at a random moment, restarts it on the same data directory, looks every acknowledged
order up, and re-sends each pay batch the kill left unanswered with the same idempotency keys:
whatever of it had been journaled answers as a replay and never moves money twice. At the end
what left the wallets equals the escrow balance equals the sum of the paid orders.
"""

import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api_test  # noqa: E402
from signing import derive_secret, signed_headers  # noqa: E402

USERS = 50
MERCHANT = 7
TOP_UP = 100_000_000


class Client:
    def __init__(self, server):
        self.server = server
        with open(os.path.join(server.data_dir, "master.key"), "rb") as key:
            self.secret = derive_secret(key.read(), "platform:0")

    def post(self, path, body, key=None):
        raw = json.dumps(body).encode()
        headers = signed_headers("platform:0", self.secret, "POST", path, raw)
        headers["Idempotency-Key"] = key or f"c-{time.time_ns()}-{random.random()}"
        return self.server.request("POST", path, raw, headers=headers)

    def batch(self, steps):
        status, _, answer = self.post("/v1/payments/batch", {"steps": steps})
        if status != 200:
            raise RuntimeError(f"batch answered {status}: {answer}")
        return answer["results"]


def setup(client):
    steps = [{"op": "open_merchant", "key": "m", "id": MERCHANT}]
    for user in range(1, USERS + 1):
        steps.append({"op": "open_user", "key": f"u{user}", "id": user})
        steps.append({"op": "top_up", "key": f"t{user}", "user": user, "amount": TOP_UP,
                      "bank": {"channel": 1, "reference": f"setup-{user}", "outcome": "approved"}})
    results = client.batch(steps)
    assert all(r["result"] == "ok" for r in results), results


def load(client, round_number, worker, acknowledged, unanswered, stop, rng):
    """Creates orders, then pays them; records (order, buyer, amount) once the pay is answered ok,
    and the pay steps the kill left without an answer."""
    sequence = 0
    while not stop.is_set():
        sequence += 1
        tag = f"r{round_number}w{worker}s{sequence}"
        amounts = [rng.randint(1, 5_000) for _ in range(20)]
        try:
            created = client.batch([{"op": "create_order", "key": f"{tag}c{i}", "merchant": MERCHANT,
                                     "amount": amount} for i, amount in enumerate(amounts)])
        except (OSError, RuntimeError):
            return  # the server died under us: nothing of this batch was acknowledged
        orders = [int(r["value"]) for r in created]
        buyers = [rng.randint(1, USERS) for _ in orders]
        steps = [{"op": "pay", "key": f"{tag}p{i}", "order": order, "buyer": buyer, "funding": {"wallet": amount}}
                 for i, (order, buyer, amount) in enumerate(zip(orders, buyers, amounts))]
        try:
            paid = client.batch(steps)
        except (OSError, RuntimeError):
            unanswered.append((steps, list(zip(orders, buyers, amounts))))
            return
        for order, buyer, amount, result in zip(orders, buyers, amounts, paid):
            if result["result"] != "ok":
                raise AssertionError(f"pay refused: {result}")
            acknowledged.append((order, buyer, amount))


def check(client, acknowledged):
    for start in range(0, len(acknowledged), 1000):
        chunk = acknowledged[start:start + 1000]
        status, _, answer = client.post("/v1/lookup/orders", {"ids": [order for order, _, _ in chunk]})
        assert status == 200, answer
        for (order, buyer, amount), found in zip(chunk, answer["orders"]):
            assert found is not None, f"acknowledged order {order} lost"
            assert found["state"] == "paid" and found["held"] == str(amount), found
            assert found["buyer"] == str(buyer), found


def resend(client, unanswered, acknowledged):
    """The same steps with the same keys: journaled ones answer as replays, the rest apply now;
    either way each order is paid exactly once."""
    for steps, expected in unanswered:
        for result in client.batch(steps):
            assert result["result"] == "ok", result
        acknowledged.extend(expected)
    unanswered.clear()


def escrow_balance(client):
    escrow = (1 << 63) | (4 << 56) | 1  # src/payments/accounts.h: platform account 1
    status, _, account = client.server.request("GET", f"/v1/accounts/{escrow}")
    assert status == 200, account
    balances = account["balances"]
    return int(balances["credits_posted"]) - int(balances["debits_posted"])


def wallets_spent(client):
    total = 0
    for user in range(1, USERS + 1):
        raw = b""
        path = f"/v1/users/{user}"
        headers = signed_headers("platform:0", client.secret, "GET", path, raw)
        status, _, answer = client.server.request("GET", path, headers=headers)
        assert status == 200, answer
        total += TOP_UP - int(answer["wallet"])
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    api_test.BINARY = os.path.abspath(args.binary)
    print(f"payments crash test: seed {args.seed}, {args.kills} kills", flush=True)
    rng = random.Random(args.seed)
    directory = tempfile.mkdtemp(prefix="capillary-payments-crash-")
    server = api_test.Server(os.path.join(directory, "data"))
    try:
        server.start()
        client = Client(server)
        setup(client)
        acknowledged, unanswered = [], []
        for round_number in range(args.kills):
            stop = threading.Event()
            workers = [threading.Thread(target=load, args=(client, round_number, w, acknowledged, unanswered,
                                                           stop, random.Random(rng.random())))
                       for w in range(3)]
            for worker in workers:
                worker.start()
            time.sleep(rng.uniform(0.3, 1.5))
            server.process.send_signal(signal.SIGKILL)
            server.process.wait()
            stop.set()
            for worker in workers:
                worker.join()
            server.start()
            check(client, acknowledged)
            resend(client, unanswered, acknowledged)
            check(client, acknowledged)
            print(f"round {round_number + 1}: {len(acknowledged)} acknowledged payments, all present", flush=True)
        # Every fen that left a wallet is in escrow, and escrow holds exactly the paid orders:
        # after the re-sends, every payment ever journaled is one of the acknowledged.
        held = sum(amount for _, _, amount in acknowledged)
        assert wallets_spent(client) == escrow_balance(client) == held, (wallets_spent(client),
                                                                         escrow_balance(client), held)
        server.stop()
        api_test.verify(server.data_dir)
        print(f"ok: {len(acknowledged)} acknowledged payments survived {args.kills} kills; verify passed")
    finally:
        if server.process is not None:
            server.process.kill()
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
