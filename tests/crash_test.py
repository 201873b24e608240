#!/usr/bin/env python3
"""Crash test: kill -9 `capillary serve` under load and check that nothing acknowledged is lost.

    crash_test.py BUILD/capillary [--kills N] [--seed S] [--threads T] [--keep]

Starts `capillary serve` on a free loopback port with a fresh data directory, opens one funding
account and 200 wallets (debits_must_not_exceed_credits), funds the wallets, then runs client
threads that POST /v1/transfers batches of 1 to 500 events: plain transfers, linked chains of 2-3
(some meant to fail as a whole), overdrafts meant to get exceeds_credits, pending holds, and posts
and voids of earlier holds. Each client records what the server acknowledged (HTTP 200 with one
result per event) and which batches were in flight when the connection died (outcome unknown).

At seeded random moments the server is killed with SIGKILL and restarted on the same data
directory; the clients carry on. After the last kill it is restarted once more and the test checks:
  1. every transfer acknowledged `ok` exists exactly once, with the fields that were sent;
  2. every transfer acknowledged as rejected does not exist;
  3. every in-flight transfer exists with the fields sent or not at all, and every linked chain
     exists entirely or not at all;
  4. money is conserved (sum of credits_posted - debits_posted is 0, pending debits equal pending
     credits), and every account's four balances and every hold's status equal what the
     transfers that exist imply; no wallet is overdrawn;
  5. after SIGTERM, `capillary verify --data DIR` exits 0.

The seed is printed first; set it with --seed or the CAPILLARY_SEED environment variable to
replay the same kill schedule and workload choices (thread timing still varies from run to run).

ctest runs it with --kills 4 (well under a minute). The full run, which the engine's crash
guarantee is judged by, is --kills 25:

    python3 tests/crash_test.py build/capillary --kills 25

Python 3 standard library only.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

LEDGER = 1
CODE = 1
FUNDING_ID = 1
WALLET_BASE = 1000
WALLETS = 200
WALLET_FUNDS = 1_000_000
FIRST_TRANSFER_ID = 1_000_000

# Failures in a client thread or in the checks are collected here and reported together.
failures = []
failures_lock = threading.Lock()


def fail(message):
    with failures_lock:
        failures.append(message)
    print(f"FAIL: {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One data directory, served by successive `capillary serve` processes."""

    def __init__(self, binary, data_dir, log_path):
        self.binary = binary
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = free_port()
        self.proc = None
        self.starts = 0

    def start(self):
        # A killed server's port is normally free again at once; if another process took it in
        # the meantime, move to a new one rather than fail the test over it.
        for _attempt in range(5):
            self.starts += 1
            with open(self.log_path, "ab") as log:
                log.write(f"--- start {self.starts} on port {self.port}\n".encode())
                log.flush()
                self.proc = subprocess.Popen(
                    [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}",
                     "--data", self.data_dir],
                    stdout=log, stderr=log)
            if self.wait_ready(timeout=60):
                return
            if self.proc.poll() is None:
                raise RuntimeError("server did not become ready within 60 s\n" + self.log_tail())
            if "in use" not in self.log_tail().lower():
                raise RuntimeError(f"server exited with {self.proc.returncode}\n" + self.log_tail())
            self.port = free_port()
        raise RuntimeError("could not find a free port for the server")

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/readyz")
                response = conn.getresponse()
                response.read()
                conn.close()
                if response.status == 200:
                    return True
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.02)
        return False

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("server did not stop within 60 s of SIGTERM\n" + self.log_tail())

    def log_tail(self, lines=30):
        with open(self.log_path, "rb") as log:
            return b"\n".join(log.read().splitlines()[-lines:]).decode(errors="replace")


def request(port, method, path, body=None, timeout=30):
    """One request on a fresh connection; returns (status, parsed JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None
    finally:
        conn.close()


def expect_ok_results(port, path, key, events):
    status, body = request(port, "POST", path, {key: events})
    if status != 200:
        raise RuntimeError(f"POST {path}: HTTP {status} {body}")
    bad = [r for r in body["results"] if r["result"] != "ok"]
    if bad:
        raise RuntimeError(f"POST {path}: {bad[:5]}")


class Batch:
    """One POST /v1/transfers as sent: the events and, per event, what the client expects."""

    def __init__(self):
        self.events = []
        # Per event: the record fields the server should hold if it was applied.
        self.expected = []
        # Per event: the index of the first event of its linked chain (itself when unlinked).
        self.chain_start = []


class Ledger:
    """What the clients know about, shared between threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.next_id = FIRST_TRANSFER_ID
        self.acked_ok = {}        # id -> expected fields
        self.acked_rejected = {}  # id -> result code
        self.unknown = []         # batches whose outcome was lost with the connection
        self.holds = []           # (id, debit, credit, amount) acknowledged ok, not yet settled
        self.batches_acked = 0
        self.events_acked = 0

    def take_ids(self, count):
        with self.lock:
            first = self.next_id
            self.next_id += count
            return first

    def take_hold(self, rng):
        with self.lock:
            if not self.holds:
                return None
            i = rng.randrange(len(self.holds))
            self.holds[i], self.holds[-1] = self.holds[-1], self.holds[i]
            return self.holds.pop()


def wallet(rng):
    return WALLET_BASE + rng.randrange(WALLETS)


def two_wallets(rng):
    debit = wallet(rng)
    credit = wallet(rng)
    while credit == debit:
        credit = wallet(rng)
    return debit, credit


def new_transfer(tid, debit, credit, amount, flags):
    event = {"id": tid, "debit_account_id": debit, "credit_account_id": credit,
             "amount": amount, "ledger": LEDGER, "code": CODE}
    if flags:
        event["flags"] = flags
    expected = {"debit_account_id": debit, "credit_account_id": credit, "amount": amount,
                "flags": sorted(flags), "pending_id": 0}
    return event, expected


def build_batch(rng, ledger):
    """A batch of 1 to 500 events. Ids are unique across the whole run."""
    size = rng.choice([1, 1, 2, 5, 10, 50, 100, 250, 500, rng.randint(1, 500)])
    batch = Batch()
    first_id = ledger.take_ids(size)
    tid = first_id
    while len(batch.events) < size:
        room = size - len(batch.events)
        kind = rng.random()
        start = len(batch.events)
        if kind < 0.12 and room >= 2:
            # A linked chain; a fifth of them carry an overdraft so the whole chain must fail.
            length = min(room, rng.choice([2, 3]))
            doomed = rng.random() < 0.2
            bad = rng.randrange(length) if doomed else -1
            for j in range(length):
                debit, credit = two_wallets(rng)
                amount = 10**12 if j == bad else rng.randint(1, 500)
                flags = ["linked"] if j < length - 1 else []
                event, expected = new_transfer(tid, debit, credit, amount, flags)
                batch.events.append(event)
                batch.expected.append(expected)
                batch.chain_start.append(start)
                tid += 1
            continue
        if kind < 0.20:
            # An overdraft: no wallet ever holds this much.
            debit, credit = two_wallets(rng)
            event, expected = new_transfer(tid, debit, credit, 10**12, [])
        elif kind < 0.32:
            debit, credit = two_wallets(rng)
            event, expected = new_transfer(tid, debit, credit, rng.randint(1, 2000), ["pending"])
        elif kind < 0.42:
            hold = ledger.take_hold(rng)
            if hold is None:
                continue
            hold_id, debit, credit, held = hold
            if rng.random() < 0.7:
                amount = rng.randint(1, held)
                event = {"id": tid, "pending_id": hold_id, "amount": amount,
                         "flags": ["post_pending"]}
                expected = {"debit_account_id": debit, "credit_account_id": credit,
                            "amount": amount, "flags": ["post_pending"], "pending_id": hold_id}
            else:
                event = {"id": tid, "pending_id": hold_id, "flags": ["void_pending"]}
                expected = {"debit_account_id": debit, "credit_account_id": credit,
                            "amount": held, "flags": ["void_pending"], "pending_id": hold_id}
        else:
            debit, credit = two_wallets(rng)
            event, expected = new_transfer(tid, debit, credit, rng.randint(1, 500), [])
        batch.events.append(event)
        batch.expected.append(expected)
        batch.chain_start.append(start)
        tid += 1
    return batch


def client(index, seed, server, ledger, stop, up):
    rng = random.Random(seed * 1000 + index)
    conn = None
    while not stop.is_set():
        up.wait()
        batch = build_batch(rng, ledger)
        body = json.dumps({"transfers": batch.events})
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            conn.request("POST", "/v1/transfers", body=body,
                         headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            # The server died with the batch in flight (or before it arrived): its outcome is
            # unknown, and the holds it settled may or may not be settled.
            with ledger.lock:
                ledger.unknown.append(batch)
            if conn is not None:
                conn.close()
                conn = None
            time.sleep(0.01)
            continue
        if response.status == 503:
            # Refused before reaching the engine (overloaded or stopping): nothing applied.
            with ledger.lock:
                for event in batch.events:
                    ledger.acked_rejected[event["id"]] = "http_503"
            time.sleep(0.05)
            continue
        if response.status != 200:
            fail(f"client {index}: HTTP {response.status}: {data[:300]!r}")
            stop.set()
            return
        results = json.loads(data)["results"]
        if len(results) != len(batch.events) or [r["index"] for r in results] != list(
                range(len(batch.events))):
            fail(f"client {index}: {len(results)} results for {len(batch.events)} events")
            stop.set()
            return
        with ledger.lock:
            ledger.batches_acked += 1
            ledger.events_acked += len(results)
            for event, expected, result in zip(batch.events, batch.expected, results):
                code = result["result"]
                if code == "ok":
                    ledger.acked_ok[event["id"]] = expected
                    if expected["flags"] == ["pending"]:
                        ledger.holds.append((event["id"], expected["debit_account_id"],
                                             expected["credit_account_id"], expected["amount"]))
                else:
                    ledger.acked_rejected[event["id"]] = code
            # Rejections the workload means to provoke; anything else points at a test or
            # server bug and is checked here so it is reported with its cause.
            for event, expected, result in zip(batch.events, batch.expected, results):
                code = result["result"]
                if code in ("ok", "exceeds_credits", "linked_event_failed"):
                    continue
                fail(f"client {index}: transfer {event['id']} got {code}: {event}")
    if conn is not None:
        conn.close()


def lookup_transfers(port, ids):
    found = {}
    ids = list(ids)
    for i in range(0, len(ids), 5000):
        chunk = ids[i:i + 5000]
        status, body = request(port, "POST", "/v1/lookup/transfers", {"ids": chunk}, timeout=120)
        if status != 200:
            raise RuntimeError(f"lookup transfers: HTTP {status} {body}")
        for tid, record in zip(chunk, body["transfers"]):
            found[tid] = record
    return found


def lookup_accounts(port, ids):
    status, body = request(port, "POST", "/v1/lookup/accounts", {"ids": list(ids)})
    if status != 200:
        raise RuntimeError(f"lookup accounts: HTTP {status} {body}")
    return dict(zip(ids, body["accounts"]))


def matches(record, expected):
    return (int(record["debit_account_id"]) == expected["debit_account_id"]
            and int(record["credit_account_id"]) == expected["credit_account_id"]
            and int(record["amount"]) == expected["amount"]
            and int(record["pending_id"]) == expected["pending_id"]
            and sorted(record["flags"]) == expected["flags"])


def check(server, ledger, funding_ids):
    port = server.port
    unknown_expected = {}
    for batch in ledger.unknown:
        for event, expected in zip(batch.events, batch.expected):
            unknown_expected[event["id"]] = expected
    all_ids = list(funding_ids) + list(ledger.acked_ok) + list(ledger.acked_rejected) + list(
        unknown_expected)
    records = lookup_transfers(port, all_ids)

    # 1. Acknowledged ok: present, with the fields sent.
    lost = [tid for tid in ledger.acked_ok if records[tid] is None]
    if lost:
        fail(f"{len(lost)} acknowledged transfers are missing after recovery, e.g. {lost[:10]}")
    for tid, expected in ledger.acked_ok.items():
        record = records[tid]
        if record is not None and not matches(record, expected):
            fail(f"acknowledged transfer {tid} differs: have {record}, sent {expected}")
    for tid in funding_ids:
        if records[tid] is None:
            fail(f"funding transfer {tid} is missing")

    # 2. Acknowledged rejected: absent.
    present = [tid for tid in ledger.acked_rejected if records[tid] is not None]
    if present:
        fail(f"{len(present)} rejected transfers exist, e.g. "
             f"{[(t, ledger.acked_rejected[t]) for t in present[:5]]}")

    # 3. In flight: whole or absent, chains all or nothing.
    unknown_applied = 0
    for batch in ledger.unknown:
        chains = {}
        for event, expected, start in zip(batch.events, batch.expected, batch.chain_start):
            record = records[event["id"]]
            if record is not None:
                unknown_applied += 1
                if not matches(record, expected):
                    fail(f"in-flight transfer {event['id']} half-applied or altered: "
                         f"have {record}, sent {expected}")
            chains.setdefault(start, []).append(record is not None)
        for start, exists in chains.items():
            if len(exists) > 1 and any(exists) and not all(exists):
                fail(f"linked chain starting at {batch.events[start]['id']} partly applied: "
                     f"{exists}")

    # Exactly once: the ledger holds no transfer beyond the ones found by id.
    status, stats = request(port, "GET", "/v1/status")
    existing = sum(1 for r in records.values() if r is not None)
    if int(stats["transfers"]) != existing:
        fail(f"the ledger holds {stats['transfers']} transfers, lookups found {existing}")

    # 4. Balances implied by the transfers that exist.
    account_ids = [FUNDING_ID] + [WALLET_BASE + i for i in range(WALLETS)]
    implied = {a: [0, 0, 0, 0] for a in account_ids}  # dp, dpo, cp, cpo
    settled = {}
    for tid, record in records.items():
        if record is None:
            continue
        flags = record["flags"]
        debit = int(record["debit_account_id"])
        credit = int(record["credit_account_id"])
        amount = int(record["amount"])
        if "pending" in flags:
            if record["status"] == "pending":
                implied[debit][0] += amount
                implied[credit][2] += amount
        elif "post_pending" in flags:
            implied[debit][1] += amount
            implied[credit][3] += amount
            settled[int(record["pending_id"])] = "posted"
        elif "void_pending" in flags:
            settled[int(record["pending_id"])] = "voided"
        else:
            implied[debit][1] += amount
            implied[credit][3] += amount
    for tid, record in records.items():
        if record is not None and "pending" in record["flags"]:
            want = settled.get(tid, "pending")
            if record["status"] != want:
                fail(f"hold {tid} has status {record['status']}, its settlements imply {want}")

    accounts = lookup_accounts(port, account_ids)
    net = 0
    pending_debits = 0
    pending_credits = 0
    mismatched = []
    for aid in account_ids:
        account = accounts[aid]
        if account is None:
            fail(f"account {aid} is missing")
            continue
        b = account["balances"]
        have = [int(b["debits_pending"]), int(b["debits_posted"]), int(b["credits_pending"]),
                int(b["credits_posted"])]
        net += have[3] - have[1]
        pending_debits += have[0]
        pending_credits += have[2]
        if have != implied[aid]:
            mismatched.append((aid, have, implied[aid]))
        if aid != FUNDING_ID and have[0] + have[1] > have[3]:
            fail(f"wallet {aid} is overdrawn: {b}")
    if mismatched:
        fail(f"{len(mismatched)} accounts disagree with their transfers "
             f"(account, [dp, dpo, cp, cpo] have, implied): {mismatched[:5]}")
    if net != 0:
        fail(f"money not conserved: sum of credits_posted - debits_posted is {net}")
    if pending_debits != pending_credits:
        fail(f"pending debits {pending_debits} != pending credits {pending_credits}")
    return existing, unknown_applied


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", help="path to the capillary binary")
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--seed", type=int,
                        default=int(os.environ["CAPILLARY_SEED"])
                        if os.environ.get("CAPILLARY_SEED") else None)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"crash_test: seed={seed} kills={args.kills} (rerun with CAPILLARY_SEED={seed})",
          flush=True)
    rng = random.Random(seed)
    began = time.monotonic()

    work = tempfile.mkdtemp(prefix="capillary-crash-")
    data_dir = os.path.join(work, "data")
    server = Server(os.path.abspath(args.binary), data_dir, os.path.join(work, "server.log"))
    ok = False
    try:
        server.start()
        accounts = [{"id": FUNDING_ID, "ledger": LEDGER, "code": CODE}]
        accounts += [{"id": WALLET_BASE + i, "ledger": LEDGER, "code": CODE,
                      "flags": ["debits_must_not_exceed_credits"]} for i in range(WALLETS)]
        expect_ok_results(server.port, "/v1/accounts", "accounts", accounts)
        funding_ids = list(range(1, WALLETS + 1))
        expect_ok_results(server.port, "/v1/transfers", "transfers", [
            {"id": tid, "debit_account_id": FUNDING_ID, "credit_account_id": WALLET_BASE + i,
             "amount": WALLET_FUNDS, "ledger": LEDGER, "code": CODE}
            for i, tid in enumerate(funding_ids)])

        ledger = Ledger()
        stop = threading.Event()
        up = threading.Event()
        up.set()
        threads = [threading.Thread(target=client, args=(i, seed, server, ledger, stop, up))
                   for i in range(args.threads)]
        for t in threads:
            t.start()
        try:
            for k in range(args.kills):
                time.sleep(rng.uniform(0.2, 2.0))
                if stop.is_set():
                    break
                up.clear()
                server.kill()
                with ledger.lock:
                    acked, unknown = len(ledger.acked_ok), len(ledger.unknown)
                print(f"kill {k + 1}/{args.kills}: {acked} acknowledged ok so far, "
                      f"{unknown} batches in flight at kills", flush=True)
                # Sometimes leave the clients hammering a dead port for a moment.
                time.sleep(rng.choice([0, 0, 0.05, 0.3]))
                server.start()
                up.set()
            # Let the last restart take some traffic before stopping the clients.
            time.sleep(rng.uniform(0.2, 1.0))
        finally:
            stop.set()
            up.set()
            for t in threads:
                t.join()
        if failures:
            raise SystemExit(1)

        # Check on a server restarted from a kill, as a crash would leave it.
        server.kill()
        server.start()
        existing, unknown_applied = check(server, ledger, funding_ids)
        unknown_events = sum(len(b.events) for b in ledger.unknown)
        print(f"checked: {len(ledger.acked_ok)} acknowledged ok, {len(ledger.acked_rejected)} "
              f"acknowledged rejected, {unknown_events} in flight ({unknown_applied} applied) in "
              f"{len(ledger.unknown)} batches; {existing} transfers exist", flush=True)

        # 5. A clean stop, then verify from disk.
        code = server.stop()
        if code != 0:
            fail(f"server exited with {code} on SIGTERM\n{server.log_tail()}")
        verify = subprocess.run([server.binary, "verify", "--data", data_dir],
                                capture_output=True, text=True, timeout=300)
        if verify.returncode != 0:
            fail(f"verify exited with {verify.returncode}: {verify.stdout}{verify.stderr}")
        else:
            print(verify.stdout.strip().splitlines()[-1] if verify.stdout.strip() else
                  "verify ok", flush=True)
        ok = not failures
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
        if not ok:
            print(f"server log tail:\n{server.log_tail()}", file=sys.stderr)
        if args.keep or not ok:
            print(f"crash_test: data kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.monotonic() - began
    if failures:
        print(f"crash_test: FAILED seed={seed} ({len(failures)} failures, {elapsed:.1f} s)")
        return 1
    print(f"crash_test: passed seed={seed} kills={args.kills} in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
