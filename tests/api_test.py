#!/usr/bin/env python3
"""End-to-end tests of the HTTP/JSON API (docs/api.md) against a real `capillary serve`.

    api_test.py BUILD/capillary [unittest arguments]

Starts the server on a free loopback port with a fresh data directory, waits for /readyz, and
drives it over HTTP: accounts, transfers, holds, linked chains, idempotent replays, every kind of
refused request (and that it changed nothing), lookups, statements with pagination, balances as
of a past time, metrics, and a SIGTERM restart that must keep every balance. Python 3 standard
library only.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BINARY = None  # set from argv in main
LEDGER = 156   # CNY
CODE = 1
WALLET = ["debits_must_not_exceed_credits"]


def verify(data_dir):
    """`capillary verify` on a stopped server's data directory: every entry and invariant holds."""
    result = subprocess.run([BINARY, "verify", "--data", data_dir], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One `capillary serve` process on a data directory that outlives restarts."""

    def __init__(self, data_dir, extra_args=()):
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.port = None
        self.process = None
        self.log_path = os.path.join(os.path.dirname(data_dir), "server.log")

    def start(self):
        self.port = free_port()
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [BINARY, "serve", "--listen", f"127.0.0.1:{self.port}", "--data", self.data_dir] + self.extra_args,
            stdout=log, stderr=log)
        log.close()
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                status, _, _ = self.request("GET", "/readyz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server not ready within 30 s:\n{self.log()}")

    def stop(self):
        """SIGTERM, as an operator or a service manager would; the server must exit cleanly."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.process = None
        return code

    def log(self):
        with open(self.log_path) as log:
            return log.read()

    def connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, method, path, body=None, content_type="application/json", headers=None):
        """Returns (status, headers, parsed JSON or text). `body` may be an object (sent as
        JSON), str or bytes (sent as is)."""
        connection = self.connection()
        try:
            all_headers = dict(headers or {})
            if body is not None:
                if not isinstance(body, (str, bytes)):
                    body = json.dumps(body)
                if content_type is not None:
                    all_headers["Content-Type"] = content_type
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            data = response.read()
            kind = response.getheader("Content-Type", "")
            parsed = json.loads(data) if kind.startswith("application/json") else data.decode()
            return response.status, response, parsed
        finally:
            connection.close()


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.mkdtemp(prefix="capillary-api-")
        cls.server = Server(os.path.join(cls.directory, "data"))
        cls.server.start()
        cls.next_id = 1000

    @classmethod
    def tearDownClass(cls):
        if cls.server.process is not None:
            cls.server.stop()
        shutil.rmtree(cls.directory, ignore_errors=True)

    def run(self, result=None):
        # On failure the server's own log is the first thing to read.
        outcome = super().run(result)
        if result is not None and (result.failures or result.errors):
            last = (result.failures + result.errors)[-1]
            if last[0] is self:
                sys.stderr.write(f"--- server log ---\n{self.server.log()}\n")
        return outcome

    # Helpers

    @classmethod
    def ids(cls, count):
        first = cls.next_id
        cls.next_id += count
        return list(range(first, first + count))

    def call(self, method, path, body=None, expect=200, **kwargs):
        status, response, parsed = self.server.request(method, path, body, **kwargs)
        self.assertEqual(status, expect, f"{method} {path}: {parsed}")
        return parsed

    def create_accounts(self, accounts):
        return [r["result"] for r in self.call("POST", "/v1/accounts", {"accounts": accounts})["results"]]

    def create_transfers(self, transfers):
        return [r["result"] for r in self.call("POST", "/v1/transfers", {"transfers": transfers})["results"]]

    def open_accounts(self, count, flags=()):
        ids = self.ids(count)
        results = self.create_accounts(
            [{"id": i, "ledger": LEDGER, "code": CODE, "flags": list(flags)} for i in ids])
        self.assertEqual(results, ["ok"] * count)
        return ids

    def transfer(self, id, debit, credit, amount, **fields):
        return dict({"id": id, "debit_account_id": debit, "credit_account_id": credit,
                     "amount": amount, "ledger": LEDGER, "code": CODE}, **fields)

    def balances(self, account_id):
        return self.call("GET", f"/v1/accounts/{account_id}")["balances"]

    def funded_wallet(self, amount):
        """A fresh funding account and a wallet holding `amount`."""
        funding, = self.open_accounts(1)
        wallet, = self.open_accounts(1, WALLET)
        self.assertEqual(self.create_transfers([self.transfer(self.ids(1)[0], funding, wallet, amount)]),
                         ["ok"])
        return funding, wallet

    def assert_error(self, parsed, code, field=None):
        self.assertIn("error", parsed, parsed)
        self.assertEqual(parsed["error"]["code"], code, parsed)
        self.assertTrue(parsed["error"]["message"], parsed)
        if field is not None:
            self.assertEqual(parsed["error"]["field"], field, parsed)

    # Health

    def test_health_ready_status(self):
        self.assertEqual(self.call("GET", "/healthz"), {"status": "ok"})
        self.assertEqual(self.call("GET", "/readyz"), {"status": "ready"})
        status = self.call("GET", "/v1/status")
        for key in ("last_sequence", "state_hash", "accounts", "transfers", "queue_depth"):
            self.assertIn(key, status)
        self.assertIsInstance(status["accounts"], str)

    # Accounts

    def test_account_fields_round_trip(self):
        id, = self.ids(1)
        big = 2**64 - 2
        self.assertEqual(self.create_accounts([{"id": str(id), "owner": str(big), "user_data": 7,
                                                "credit_limit": 5000, "ledger": LEDGER, "code": 9,
                                                "flags": WALLET}]), ["ok"])
        account = self.call("GET", f"/v1/accounts/{id}")
        self.assertEqual(account["id"], str(id))
        self.assertEqual(account["owner"], str(big))
        self.assertEqual(account["user_data"], "7")
        self.assertEqual(account["credit_limit"], "5000")
        self.assertEqual(account["ledger"], LEDGER)
        self.assertEqual(account["code"], 9)
        self.assertEqual(account["flags"], WALLET)
        self.assertGreater(int(account["timestamp"]), 0)
        self.assertEqual(account["balances"], {"debits_pending": "0", "debits_posted": "0",
                                               "credits_pending": "0", "credits_posted": "0",
                                               "available": "0"})

    def test_account_replay_is_idempotent(self):
        id, = self.ids(1)
        spec = {"id": id, "ledger": LEDGER, "code": CODE}
        self.assertEqual(self.create_accounts([spec]), ["ok"])
        self.assertEqual(self.create_accounts([spec]), ["exists"])
        self.assertEqual(self.create_accounts([dict(spec, code=2)]), ["exists_with_different_fields"])
        self.assertEqual(self.call("GET", f"/v1/accounts/{id}")["code"], CODE)

    def test_account_rejections_are_per_event(self):
        ids = self.ids(2)
        results = self.call("POST", "/v1/accounts", {"accounts": [
            {"id": ids[0], "ledger": 0, "code": CODE},
            {"id": ids[1], "ledger": LEDGER, "code": CODE},
        ]})["results"]
        self.assertEqual(results[0], {"index": 0, "result": "ledger_must_not_be_zero",
                                      "description": "ledger 0 is reserved"})
        self.assertEqual(results[1], {"index": 1, "result": "ok"})
        self.call("GET", f"/v1/accounts/{ids[0]}", expect=404)

    def test_unknown_account_and_transfer(self):
        self.assert_error(self.call("GET", "/v1/accounts/999999999", expect=404), "account_not_found")
        self.assert_error(self.call("GET", "/v1/transfers/999999999", expect=404), "transfer_not_found")
        self.assert_error(self.call("GET", "/v1/accounts/12x", expect=400), "invalid_id", "id")
        self.assert_error(self.call("GET", "/v1/accounts/18446744073709551616", expect=400), "invalid_id")

    # Transfers

    def test_transfer_moves_money(self):
        funding, wallet = self.funded_wallet(1000)
        other, = self.open_accounts(1, WALLET)
        id, = self.ids(1)
        self.assertEqual(self.create_transfers([self.transfer(id, wallet, other, 300, user_data=42)]),
                         ["ok"])
        self.assertEqual(self.balances(wallet)["debits_posted"], "300")
        self.assertEqual(self.balances(wallet)["available"], "700")
        self.assertEqual(self.balances(other)["credits_posted"], "300")
        self.assertEqual(self.balances(funding)["debits_posted"], "1000")
        record = self.call("GET", f"/v1/transfers/{id}")
        self.assertEqual((record["debit_account_id"], record["credit_account_id"], record["amount"],
                          record["user_data"], record["status"], record["flags"]),
                         (str(wallet), str(other), "300", "42", "none", []))
        self.assertGreater(int(record["timestamp"]), 0)

    def test_overdraft_is_rejected(self):
        _, wallet = self.funded_wallet(100)
        other, = self.open_accounts(1)
        id, = self.ids(1)
        self.assertEqual(self.create_transfers([self.transfer(id, wallet, other, 101)]),
                         ["exceeds_credits"])
        self.assertEqual(self.balances(wallet)["debits_posted"], "0")
        self.call("GET", f"/v1/transfers/{id}", expect=404)

    def test_pending_then_partial_post(self):
        funding, wallet = self.funded_wallet(1000)
        merchant, = self.open_accounts(1)
        hold, post = self.ids(2)
        self.assertEqual(self.create_transfers([self.transfer(hold, wallet, merchant, 300,
                                                              flags=["pending"], timeout_s=3600)]),
                         ["ok"])
        self.assertEqual(self.balances(wallet)["debits_pending"], "300")
        self.assertEqual(self.balances(wallet)["available"], "700")
        self.assertEqual(self.call("GET", f"/v1/transfers/{hold}")["status"], "pending")

        self.assertEqual(self.create_transfers([{"id": post, "pending_id": hold, "amount": 200,
                                                 "flags": ["post_pending"]}]), ["ok"])
        self.assertEqual(self.balances(wallet), {"debits_pending": "0", "debits_posted": "200",
                                                 "credits_pending": "0", "credits_posted": "1000",
                                                 "available": "800"})
        self.assertEqual(self.balances(merchant)["credits_posted"], "200")
        self.assertEqual(self.call("GET", f"/v1/transfers/{hold}")["status"], "posted")
        posted = self.call("GET", f"/v1/transfers/{post}")
        self.assertEqual((posted["amount"], posted["debit_account_id"]), ("200", str(wallet)))
        again, = self.ids(1)
        self.assertEqual(self.create_transfers([{"id": again, "pending_id": hold,
                                                 "flags": ["void_pending"]}]),
                         ["pending_transfer_already_posted"])

    def test_void_releases_hold(self):
        _, wallet = self.funded_wallet(500)
        merchant, = self.open_accounts(1)
        hold, void = self.ids(2)
        self.assertEqual(self.create_transfers([self.transfer(hold, wallet, merchant, 500,
                                                              flags=["pending"])]), ["ok"])
        self.assertEqual(self.create_transfers([{"id": void, "pending_id": hold,
                                                 "flags": ["void_pending"]}]), ["ok"])
        self.assertEqual(self.balances(wallet)["debits_pending"], "0")
        self.assertEqual(self.balances(wallet)["available"], "500")
        self.assertEqual(self.balances(merchant)["credits_pending"], "0")
        self.assertEqual(self.call("GET", f"/v1/transfers/{hold}")["status"], "voided")

    def test_linked_chain_fails_as_one(self):
        _, wallet = self.funded_wallet(100)
        coupon, merchant = self.open_accounts(2)
        first, second, alone = self.ids(3)
        results = self.create_transfers([
            self.transfer(first, coupon, merchant, 10, flags=["linked"]),
            self.transfer(second, wallet, merchant, 1000),  # overdraft ends the chain and fails it
            self.transfer(alone, coupon, merchant, 5),
        ])
        self.assertEqual(results, ["linked_event_failed", "exceeds_credits", "ok"])
        self.call("GET", f"/v1/transfers/{first}", expect=404)
        self.call("GET", f"/v1/transfers/{second}", expect=404)
        self.assertEqual(self.balances(merchant)["credits_posted"], "5")

    def test_transfer_replay_is_idempotent(self):
        _, wallet = self.funded_wallet(1000)
        other, = self.open_accounts(1)
        id, = self.ids(1)
        transfer = self.transfer(id, wallet, other, 100)
        self.assertEqual(self.create_transfers([transfer]), ["ok"])
        self.assertEqual(self.create_transfers([transfer]), ["exists"])
        self.assertEqual(self.create_transfers([dict(transfer, amount=99)]),
                         ["exists_with_different_fields"])
        self.assertEqual(self.balances(wallet)["debits_posted"], "100")

    def test_numbers_and_strings_both_accepted(self):
        _, wallet = self.funded_wallet(1000)
        other, = self.open_accounts(1)
        id, = self.ids(1)
        self.assertEqual(self.create_transfers([{
            "id": str(id), "debit_account_id": str(wallet), "credit_account_id": other,
            "amount": "250", "ledger": str(LEDGER), "code": CODE, "flags": 0}]), ["ok"])
        self.assertEqual(self.balances(other)["credits_posted"], "250")

    # Refused requests change nothing

    def assert_refused(self, body, status, code, field=None, content_type="application/json"):
        """Posts `body` as a batch of transfers from a fresh wallet and checks that it is refused
        with `status`/`code` and that neither the transfer nor any balance came to exist."""
        parsed = self.call("POST", "/v1/transfers", body, expect=status, content_type=content_type)
        self.assert_error(parsed, code, field)
        return parsed

    def test_refused_requests_change_nothing(self):
        _, wallet = self.funded_wallet(1000)
        other, = self.open_accounts(1)
        id, = self.ids(1)
        good = self.transfer(id, wallet, other, 10)
        good_json = json.dumps({"transfers": [good]})
        before = (self.balances(wallet), self.balances(other))

        self.assert_refused(good_json[:-3], 400, "malformed_json")
        self.assert_refused(good_json + "{}", 400, "malformed_json")
        self.assert_refused({"transfers": [dict(good, memo="x")]}, 400, "unknown_field",
                            "transfers[0].memo")
        self.assert_refused({"transfers": [good], "dry_run": True}, 400, "unknown_field", "dry_run")
        self.assert_refused({"transfers": [dict(good, amount=10.5)]}, 400, "wrong_type",
                            "transfers[0].amount")
        self.assert_refused({"transfers": [dict(good, amount=True)]}, 400, "wrong_type",
                            "transfers[0].amount")
        self.assert_refused({"transfers": [dict(good, debit_account_id=-1)]}, 400, "out_of_range",
                            "transfers[0].debit_account_id")
        self.assert_refused({"transfers": [dict(good, code=70000)]}, 400, "out_of_range",
                            "transfers[0].code")
        missing = dict(good)
        del missing["ledger"]
        self.assert_refused({"transfers": [missing]}, 400, "missing_field", "transfers[0].ledger")
        self.assert_refused({"transfers": [dict(good, flags=["pendng"])]}, 400, "unknown_flag",
                            "transfers[0].flags[0]")
        self.assert_refused({"transfers": []}, 400, "empty_batch")
        # A good transfer followed by a bad one: the whole request is refused.
        second, = self.ids(1)
        self.assert_refused({"transfers": [good, dict(self.transfer(second, wallet, other, 1), x=1)]},
                            400, "unknown_field", "transfers[1].x")
        self.assert_refused(good_json, 415, "unsupported_media_type", content_type="text/plain")
        self.assert_refused(good_json, 415, "unsupported_media_type", content_type=None)
        too_many = {"transfers": [self.transfer(id + 10**9 + i, wallet, other, 1) for i in range(8191)]}
        self.assert_refused(too_many, 413, "too_many_events", "transfers")

        self.call("GET", f"/v1/transfers/{id}", expect=404)
        self.call("GET", f"/v1/transfers/{second}", expect=404)
        self.call("GET", f"/v1/transfers/{id + 10**9}", expect=404)
        self.assertEqual((self.balances(wallet), self.balances(other)), before)
        # The same transfer, sent properly, still goes through.
        self.assertEqual(self.create_transfers([good]), ["ok"])

    def test_oversized_body(self):
        body = b'{"transfers":[' + b" " * (9 << 20) + b"]}"
        parsed = self.call("POST", "/v1/transfers", body, expect=413)
        self.assert_error(parsed, "body_too_large")
        # The server is still serving.
        self.call("GET", "/healthz")

    def test_application_json_with_charset(self):
        _, wallet = self.funded_wallet(10)
        other, = self.open_accounts(1)
        id, = self.ids(1)
        parsed = self.call("POST", "/v1/transfers", {"transfers": [self.transfer(id, wallet, other, 1)]},
                           content_type="application/json; charset=utf-8")
        self.assertEqual(parsed["results"], [{"index": 0, "result": "ok"}])

    def test_routing_errors(self):
        status, response, parsed = self.server.request("GET", "/v1/transfers")
        self.assertEqual(status, 405)
        self.assertEqual(response.getheader("Allow"), "POST")
        self.assert_error(parsed, "method_not_allowed")
        status, response, parsed = self.server.request("DELETE", "/v1/accounts/1")
        self.assertEqual(status, 405)
        self.assertEqual(response.getheader("Allow"), "GET")
        self.assert_error(self.call("GET", "/v2/nothing", expect=404), "not_found")
        self.assert_error(self.call("GET", "/v1/accounts/1/", expect=404), "not_found")
        self.assert_error(self.call("GET", "/v1/accounts/1?x=1", expect=400), "unknown_parameter")
        self.assert_error(self.call("GET", "/v1/accounts/1/statement?limit=0", expect=400),
                          "invalid_parameter", "limit")
        self.assert_error(self.call("GET", "/v1/accounts/1/statement?from=abc", expect=400),
                          "invalid_parameter", "from")
        self.assert_error(self.call("GET", "/v1/accounts/1/statement?form=1", expect=400),
                          "unknown_parameter", "form")

    def test_expect_100_continue(self):
        # curl sends Expect: 100-continue for large bodies and waits for the interim response.
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as raw:
            body = json.dumps({"ids": [1]}).encode()
            raw.sendall(b"POST /v1/lookup/accounts HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
            interim = raw.recv(1024)
            self.assertTrue(interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim)
            raw.sendall(body)
            reply = b""
            while b'"accounts"' not in reply:
                chunk = raw.recv(65536)
                self.assertTrue(chunk, reply)
                reply += chunk
            self.assertIn(b"HTTP/1.1 200 OK", reply)

    def test_malformed_http(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as raw:
            raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            reply = raw.recv(65536)
            self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply)
            self.assertIn(b'"bad_request"', reply)

    def test_pipelined_requests_answered_in_order(self):
        # Requests that share a read are parsed from the buffer one after another, and a request
        # that arrives a byte at a time is parsed as its bytes come; the answers keep their order.
        accounts = self.open_accounts(3)
        def lookup(id):
            body = json.dumps({"ids": [id]}).encode()
            return (b"POST /v1/lookup/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        requests = [lookup(id) for id in accounts] + [b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"]
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as raw:
            raw.sendall(b"".join(requests))
            for byte in lookup(accounts[0]):
                raw.sendall(bytes([byte]))
            raw.shutdown(socket.SHUT_WR)
            reply = b""
            while chunk := raw.recv(65536):
                reply += chunk
        answers = reply.split(b"HTTP/1.1 ")[1:]
        self.assertEqual(len(answers), 5, reply)
        self.assertTrue(all(answer.startswith(b"200 OK") for answer in answers), reply)
        ids = [json.loads(answer.split(b"\r\n\r\n", 1)[1])["accounts"][0]["id"]
               for answer in answers[:3] + answers[4:]]
        self.assertEqual(ids, [str(id) for id in accounts] + [str(accounts[0])])

    def test_answers_to_a_client_slow_to_read(self):
        # Nothing is read until every request is sent: the answers (~5 MB) fill the socket's
        # buffers (4 MiB at most for sending on Linux) and wait for the client, some of them
        # written in part. Each still arrives whole and in order.
        count = 200
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as raw:
            raw.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * count)
            time.sleep(0.5)
            raw.shutdown(socket.SHUT_WR)
            reply = b""
            while chunk := raw.recv(65536):
                reply += chunk
        answers = reply.split(b"HTTP/1.1 200 OK\r\n")[1:]
        self.assertEqual(len(answers), count)
        for answer in answers:
            head, body = answer.split(b"\r\n\r\n", 1)
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
            self.assertGreater(length, 20000)
            self.assertEqual(len(body), length)
            self.assertIn(b"capillary_engine_batches_total", body)

    def test_request_cut_short_is_not_answered(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as raw:
            raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                        b"POST /v1/lookup/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
            raw.shutdown(socket.SHUT_WR)
            reply = b""
            while chunk := raw.recv(65536):
                reply += chunk
        # The whole request is answered; the one cut short closes the connection unanswered.
        self.assertEqual(reply.count(b"HTTP/1.1 "), 1, reply)
        self.assertTrue(reply.startswith(b"HTTP/1.1 200 OK"), reply)
        self.call("GET", "/healthz")

    # Lookups

    def test_lookup_many(self):
        _, wallet = self.funded_wallet(100)
        other, = self.open_accounts(1)
        id, = self.ids(1)
        self.assertEqual(self.create_transfers([self.transfer(id, wallet, other, 1)]), ["ok"])
        accounts = self.call("POST", "/v1/lookup/accounts", {"ids": [other, 999999999, str(wallet)]})
        self.assertEqual([a and a["id"] for a in accounts["accounts"]], [str(other), None, str(wallet)])
        transfers = self.call("POST", "/v1/lookup/transfers", {"ids": [999999998, id]})
        self.assertEqual([t and t["id"] for t in transfers["transfers"]], [None, str(id)])
        self.assert_error(self.call("POST", "/v1/lookup/transfers", {"ids": [1], "x": 1}, expect=400),
                          "unknown_field")

    # History

    def test_statement_pages_oldest_first(self):
        funding, wallet = self.funded_wallet(1000)
        other, = self.open_accounts(1)
        ids = self.ids(4)
        for i, id in enumerate(ids):
            # One request each, so each line has its own batch and timestamp.
            self.assertEqual(self.create_transfers([self.transfer(id, wallet, other, 10 * (i + 1))]),
                             ["ok"])
        lines = []
        path = f"/v1/accounts/{wallet}/statement?limit=2"
        pages = 0
        while True:
            page = self.call("GET", path)
            pages += 1
            self.assertEqual(page["account_id"], str(wallet))
            lines += page["lines"]
            if page["next_from"] is None:
                break
            self.assertEqual(len(page["lines"]), 2)
            path = f"/v1/accounts/{wallet}/statement?limit=2&from={page['next_from']}"
        self.assertEqual(pages, 3)  # 2 + 2 + 1 line, the last page short
        self.assertEqual(len(lines), 5)
        self.assertEqual(lines[0]["direction"], "credit")  # the funding
        self.assertEqual(lines[0]["transfer"]["debit_account_id"], str(funding))
        self.assertEqual([line["direction"] for line in lines[1:]], ["debit"] * 4)
        self.assertEqual([line["transfer"]["id"] for line in lines[1:]], [str(i) for i in ids])
        self.assertEqual([line["balances_after"]["debits_posted"] for line in lines[1:]],
                         ["10", "30", "60", "100"])
        timestamps = [int(line["timestamp"]) for line in lines]
        self.assertEqual(timestamps, sorted(timestamps))
        # A time window: only the middle two debits.
        window = self.call("GET", f"/v1/accounts/{wallet}/statement?from={timestamps[2]}"
                                  f"&to={timestamps[4]}")
        self.assertEqual([line["transfer"]["id"] for line in window["lines"]], [str(ids[1]), str(ids[2])])
        self.assertIsNone(window["next_from"])
        self.assert_error(self.call("GET", "/v1/accounts/999999999/statement", expect=404),
                          "account_not_found")

    def test_balance_as_of(self):
        _, wallet = self.funded_wallet(1000)
        other, = self.open_accounts(1)
        first, second = self.ids(2)
        self.assertEqual(self.create_transfers([self.transfer(first, wallet, other, 100)]), ["ok"])
        self.assertEqual(self.create_transfers([self.transfer(second, wallet, other, 200)]), ["ok"])
        first_at = int(self.call("GET", f"/v1/transfers/{first}")["timestamp"])
        second_at = int(self.call("GET", f"/v1/transfers/{second}")["timestamp"])

        past = self.call("GET", f"/v1/accounts/{wallet}/balance?at={first_at}")
        self.assertEqual(past["balances"]["debits_posted"], "100")
        self.assertEqual(past["balances"]["available"], "900")
        self.assertEqual(past["timestamp"], str(first_at))
        between = self.call("GET", f"/v1/accounts/{wallet}/balance?at={second_at - 1}")
        self.assertEqual(between["balances"]["debits_posted"], "100")
        now = self.call("GET", f"/v1/accounts/{wallet}/balance")
        self.assertEqual(now["balances"]["debits_posted"], "300")

        created = int(self.call("GET", f"/v1/accounts/{other}")["timestamp"])
        untouched = self.call("GET", f"/v1/accounts/{other}/balance?at={created}")
        self.assertEqual(untouched["balances"]["credits_posted"], "0")
        self.assert_error(self.call("GET", f"/v1/accounts/{other}/balance?at={created - 1}",
                                    expect=404), "account_not_yet_created", "at")
        self.assert_error(self.call("GET", "/v1/accounts/999999999/balance", expect=404),
                          "account_not_found")

    # Metrics

    def test_metrics(self):
        self.call("GET", "/healthz")
        _, wallet = self.funded_wallet(10)
        text = self.call("GET", "/metrics")
        self.assertIn('capillary_http_requests_total{route="healthz",status="200"}', text)
        self.assertIn('capillary_http_requests_total{route="create_transfers",status="200"}', text)
        self.assertIn('capillary_http_request_duration_seconds_bucket{route="create_transfers",le="+Inf"}',
                      text)
        self.assertIn("# TYPE capillary_http_requests_total counter", text)
        ok = [line for line in text.splitlines()
              if line.startswith('capillary_transfer_results_total{result="ok"}')]
        self.assertEqual(len(ok), 1)
        self.assertGreaterEqual(int(ok[0].split()[-1]), 1)
        self.assertRegex(text, r"\ncapillary_engine_accounts \d+")
        self.assertRegex(text, r"\ncapillary_engine_events_total \d+")

    # Last, by name: a restart keeps everything.

    def test_zz_restart_keeps_everything(self):
        _, wallet = self.funded_wallet(1000)
        merchant, = self.open_accounts(1)
        hold, = self.ids(1)
        self.assertEqual(self.create_transfers([self.transfer(hold, wallet, merchant, 400,
                                                              flags=["pending"])]), ["ok"])
        every_id = list(range(1000, self.next_id))
        accounts_before = self.call("POST", "/v1/lookup/accounts", {"ids": every_id})["accounts"]
        transfers_before = self.call("POST", "/v1/lookup/transfers", {"ids": every_id})["transfers"]
        statement_before = self.call("GET", f"/v1/accounts/{wallet}/statement")
        hash_before = self.call("GET", "/v1/status")["state_hash"]

        self.assertEqual(self.server.stop(), 0)
        self.server.start()

        self.assertEqual(self.call("POST", "/v1/lookup/accounts", {"ids": every_id})["accounts"],
                         accounts_before)
        self.assertEqual(self.call("POST", "/v1/lookup/transfers", {"ids": every_id})["transfers"],
                         transfers_before)
        self.assertEqual(self.call("GET", f"/v1/accounts/{wallet}/statement"), statement_before)
        self.assertEqual(self.call("GET", "/v1/status")["state_hash"], hash_before)
        # The hold survived and can still be settled.
        post, = self.ids(1)
        self.assertEqual(self.create_transfers([{"id": post, "pending_id": hold,
                                                 "flags": ["post_pending"]}]), ["ok"])
        self.assertEqual(self.balances(merchant)["credits_posted"], "400")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main()
