#!/usr/bin/env python3
"""End-to-end tests of the payments API (docs/payments-api.md) against a real `capillary serve`.

    payments_api_test.py BUILD/capillary [unittest arguments]

Every request is signed with a secret derived from the server's master key, exactly as a tenant's
client would sign it. Covers: signatures (bad, stale, missing), idempotency (replay, reuse with
another body), who may act for whom (a user spending another's wallet, a merchant reading or
refunding another merchant's order), wallet flows, escrow checkout with mixed sources, refunds
before and after release, double confirm and confirm after refund, coupons (expired, minimum
spend), red packets (claim of an empty one), withdrawal to a failing bank (money back), QR
payments, settlement, batches and order lookup, and a restart that keeps everything.
"""

import http.server
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api_test  # noqa: E402  (its Server runs `capillary serve`)
from tenant_test_case import TenantTestCase  # noqa: E402
from signing import derive_secret, sign, signed_headers  # noqa: E402

PLATFORM = "platform:0"


class PaymentsApiTest(TenantTestCase):
    first_party = 1000

    # --- plumbing -------------------------------------------------------------------------------

    def open_user(self, top_up=0):
        user = self.party()
        self.ok("POST", "/v1/users", {"id": user, "verified": True})
        if top_up:
            self.top_up(user, top_up)
        return user

    def open_merchant(self, **terms):
        merchant = self.party()
        self.ok("POST", "/v1/merchants", dict({"id": merchant}, **terms))
        return merchant

    def top_up(self, user, amount):
        self.ok("POST", f"/v1/users/{user}/top-ups",
                {"amount": amount, "bank": {"channel": 3, "reference": self.key(), "outcome": "approved"}})

    def wallet(self, user):
        return int(self.ok("GET", f"/v1/users/{user}")["wallet"])

    def order(self, merchant, amount, **fields):
        answer = self.ok("POST", "/v1/orders", dict({"amount": amount}, **fields),
                         as_key=f"merchant:{merchant}")
        return int(answer["value"])

    def pay(self, user, order, **funding):
        return self.send("POST", f"/v1/orders/{order}/pay", {"funding": funding}, as_key=f"user:{user}")

    # --- authentication and idempotency ---------------------------------------------------------

    def test_unsigned_stale_and_forged_requests_are_refused(self):
        status, _, answer = self.server.request("GET", "/v1/users/1")
        self.assertEqual((status, answer["error"]["code"]), (401, "missing_header"))
        status, answer = self.send("POST", "/v1/users", {"id": self.party()}, timestamp=int(time.time()) - 301)
        self.assertEqual((status, answer["error"]["code"]), (401, "stale_timestamp"))
        status, answer = self.send("POST", "/v1/users", {"id": self.party()}, secret="0" * 64)
        self.assertEqual((status, answer["error"]["code"]), (401, "bad_signature"))
        # A user's key cannot sign as the platform.
        user = self.open_user()
        status, answer = self.send("POST", "/v1/users", {"id": self.party()}, as_key=PLATFORM,
                                   secret=derive_secret(self.master, f"user:{user}"))
        self.assertEqual((status, answer["error"]["code"]), (401, "bad_signature"))

    def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(self):
        user = self.open_user()
        body = {"amount": 700, "bank": {"channel": 3, "reference": "B-1", "outcome": "approved"}}
        key = self.key()
        first = self.send("POST", f"/v1/users/{user}/top-ups", body, idempotency_key=key)
        again = self.send("POST", f"/v1/users/{user}/top-ups", body, idempotency_key=key)
        self.assertEqual(first[1]["result"], "ok")
        self.assertEqual(again[1].get("replayed"), True)
        self.assertEqual(self.wallet(user), 700)
        other = self.send("POST", f"/v1/users/{user}/top-ups", dict(body, amount=900), idempotency_key=key)
        self.assertEqual((other[0], other[1]["result"]), (409, "idempotency_key_reused"))
        self.assertEqual(self.wallet(user), 700)
        raw = json.dumps({"id": self.party()}).encode()
        headers = signed_headers(PLATFORM, derive_secret(self.master, PLATFORM), "POST", "/v1/users", raw)
        status, _, answer = self.server.request("POST", "/v1/users", raw, headers=headers)
        self.assertEqual((status, answer["error"]["code"]), (400, "missing_idempotency_key"))

    def test_malformed_bodies_change_nothing(self):
        user = self.open_user(1000)
        for body, code in [({"amount": 10.5}, "invalid_integer"), ({"amount": -1}, "invalid_integer"),
                           ({"amount": 5, "surprise": 1}, "unknown_field"), ({}, "missing_field")]:
            status, answer = self.send("POST", f"/v1/users/{user}/transfers", dict(body, to=user))
            self.assertEqual((status, answer["error"]["code"]), (400, code), body)
        # A field given twice, which a JSON object in Python cannot hold, is sent as raw bytes.
        path = f"/v1/users/{user}/transfers"
        for raw, code, field in [(f'{{"to":{user},"amount":5,"amount":6}}', "duplicate_field", "amount"),
                                 (f'{{"amount":5,"to":{user},"surprise":1,"to":{user}}}', "unknown_field",
                                  "surprise")]:
            headers = signed_headers(PLATFORM, derive_secret(self.master, PLATFORM), "POST", path, raw.encode())
            headers["Idempotency-Key"] = self.key()
            status, _, answer = self.server.request("POST", path, raw.encode(), headers=headers)
            self.assertEqual((status, answer["error"]["code"], answer["error"]["field"]), (400, code, field), raw)
        self.assertEqual(self.wallet(user), 1000)

    # --- who may act for whom -------------------------------------------------------------------

    def test_a_user_cannot_spend_another_users_balance(self):
        alice, bob = self.open_user(5000), self.open_user()
        status, answer = self.send("POST", f"/v1/users/{alice}/transfers", {"to": bob, "amount": 100},
                                   as_key=f"user:{bob}")
        self.assertEqual((status, answer["result"]), (403, "forbidden"))
        self.assertEqual(self.wallet(alice), 5000)
        status, _ = self.send("GET", f"/v1/users/{alice}", as_key=f"user:{bob}")
        self.assertEqual(status, 404)
        # The platform's back end may move it (risk control runs on app traffic).
        self.ok("POST", f"/v1/users/{alice}/transfers", {"to": bob, "amount": 100})
        self.assertEqual((self.wallet(alice), self.wallet(bob)), (4900, 100))

    def test_risk_control_stops_a_takeover_payout(self):
        victim, stranger = self.open_user(50_000), self.open_user()
        raw = json.dumps({"to": stranger, "amount": 40_000}).encode()
        path = f"/v1/users/{victim}/transfers"
        key_id = f"user:{victim}"
        headers = signed_headers(key_id, derive_secret(self.master, key_id), "POST", path, raw)
        headers.update({"Idempotency-Key": self.key(), "X-Capillary-Device": "unknown-phone",
                        "X-Capillary-City": "9"})
        status, _, answer = self.server.request("POST", path, raw, headers=headers)
        self.assertEqual((status, answer["result"]), (422, "risk_denied"), answer)
        self.assertEqual(self.wallet(victim), 50_000)

    def test_logins_are_decided_by_risk_control(self):
        user = self.open_user()
        familiar = self.ok("POST", f"/v1/users/{user}/logins", {}, as_key=f"user:{user}")
        self.assertEqual(familiar["action"], "allow")
        raw = b"{}"
        path = f"/v1/users/{user}/logins"
        key_id = f"user:{user}"
        headers = signed_headers(key_id, derive_secret(self.master, key_id), "POST", path, raw)
        headers.update({"Idempotency-Key": self.key(), "X-Capillary-Device": "never-seen", "X-Capillary-City": "5"})
        status, _, answer = self.server.request("POST", path, raw, headers=headers)
        self.assertEqual((status, answer["action"]), (200, "challenge"), answer)
        other = self.open_user()
        status, _ = self.send("POST", path, {}, as_key=f"user:{other}")
        self.assertEqual(status, 403)

    def test_a_merchant_cannot_read_or_refund_another_merchants_order(self):
        buyer = self.open_user(10_000)
        shop, rival = self.open_merchant(), self.open_merchant()
        order = self.order(shop, 3000)
        self.assertEqual(self.pay(buyer, order, wallet=3000)[1]["result"], "ok")
        status, _ = self.send("GET", f"/v1/orders/{order}", as_key=f"merchant:{rival}")
        self.assertEqual(status, 404)
        status, answer = self.send("POST", f"/v1/orders/{order}/refund", {"amount": 100},
                                   as_key=f"merchant:{rival}")
        self.assertEqual((status, answer["result"]), (403, "forbidden"))
        self.assertEqual(self.ok("GET", f"/v1/orders/{order}", as_key=f"merchant:{shop}")["held"], "3000")

    # --- escrow checkout ------------------------------------------------------------------------

    def test_escrow_checkout_release_fee_and_settlement(self):
        buyer, shop = self.open_user(20_000), self.open_merchant()
        order = self.order(shop, 12_425, order_no="T-1")
        cashier = self.ok("POST", f"/v1/orders/{order}/cashier", {}, as_key=f"user:{buyer}")
        self.assertEqual((cashier["amount"], cashier["wallet"]), ("12425", "20000"))
        self.assertEqual(self.pay(buyer, order, wallet=12_425)[1]["result"], "ok")
        confirmed = self.ok("POST", f"/v1/orders/{order}/confirm", {}, as_key=f"user:{buyer}")
        self.assertEqual(confirmed["value"], "75")  # 60 bps of 124.25 CNY = 0.7455, half up
        self.assertEqual(self.ok("GET", f"/v1/merchants/{shop}")["balance"], "12350")
        again = self.rejected("POST", f"/v1/orders/{order}/confirm", {}, "order_already_released",
                              as_key=f"user:{buyer}")
        self.assertIn("description", again)
        day = (time.time_ns() + 8 * 3600 * 10**9) // (86_400 * 10**9)
        settlement = self.ok("GET", f"/v1/merchants/{shop}/settlements?day={day}", as_key=f"merchant:{shop}")
        self.assertEqual((settlement["orders"], settlement["gross"], settlement["fees"], settlement["net"]),
                         ("1", "12425", "75", "12350"))
        # The same order number again: the existing order.
        dup = self.rejected("POST", "/v1/orders", {"amount": 1, "order_no": "T-1"}, "order_exists",
                            as_key=f"merchant:{shop}")
        self.assertEqual(dup["value"], str(order))

    def test_overdraft_refund_limits_and_confirm_after_refund(self):
        buyer, shop = self.open_user(1000), self.open_merchant()
        order = self.order(shop, 1500)
        status, answer = self.pay(buyer, order, wallet=1500)
        self.assertEqual((status, answer["result"]), (422, "insufficient_wallet"))
        self.top_up(buyer, 500)
        self.assertEqual(self.pay(buyer, order, wallet=1500)[1]["result"], "ok")
        merchant = f"merchant:{shop}"
        self.rejected("POST", f"/v1/orders/{order}/refund", {"amount": 1501}, "refund_exceeds_paid", as_key=merchant)
        self.ok("POST", f"/v1/orders/{order}/refund", {"amount": 1500}, as_key=merchant)
        self.assertEqual(self.wallet(buyer), 1500)
        self.rejected("POST", f"/v1/orders/{order}/confirm", {}, "order_refunded", as_key=f"user:{buyer}")
        self.assertEqual(self.ok("GET", f"/v1/orders/{order}")["state"], "refunded")

    def test_refund_after_release_comes_from_the_merchant(self):
        buyer, shop = self.open_user(10_000), self.open_merchant(fee_bps=0)
        order = self.order(shop, 10_000)
        self.assertEqual(self.pay(buyer, order, wallet=10_000)[1]["result"], "ok")
        self.ok("POST", f"/v1/orders/{order}/confirm", {}, as_key=f"user:{buyer}")
        self.ok("POST", f"/v1/orders/{order}/refund", {"amount": 4000}, as_key=f"merchant:{shop}")
        self.assertEqual(self.wallet(buyer), 4000)
        self.assertEqual(self.ok("GET", f"/v1/merchants/{shop}")["balance"], "6000")

    def test_mixed_sources_with_a_coupon_and_an_expired_coupon(self):
        buyer, shop = self.open_user(10_000), self.open_merchant()
        now = int(time.time())
        campaign = int(self.ok("POST", "/v1/campaigns", {"budget": 5000, "value": 500, "min_spend": 2000,
                                                        "valid_from": now - 60, "valid_to": now + 3600,
                                                        "per_user_limit": 1})["value"])
        expired = int(self.ok("POST", "/v1/campaigns", {"budget": 5000, "value": 500, "valid_from": now - 7200,
                                                       "valid_to": now - 3600, "per_user_limit": 1})["value"])
        order = self.order(shop, 3000)
        status, answer = self.pay(buyer, order, wallet=2500, campaign=expired)
        self.assertEqual((status, answer["result"]), (422, "coupon_not_valid_now"))
        small = self.order(shop, 1000)
        self.assertEqual(self.pay(buyer, small, wallet=500, campaign=campaign)[1]["result"], "coupon_min_spend")
        self.assertEqual(self.pay(buyer, order, wallet=2400, campaign=campaign)[1]["result"], "funding_mismatch")
        self.assertEqual(self.pay(buyer, order, wallet=2500, campaign=campaign)[1]["result"], "ok")
        self.assertEqual(self.wallet(buyer), 7500)
        placed = self.ok("GET", f"/v1/orders/{order}")
        self.assertEqual((placed["funding"]["wallet"], placed["funding"]["coupon"]), ("2500", "500"))
        self.assertEqual(self.pay(buyer, self.order(shop, 100), fund=100, fund_id=999)[1]["result"], "fund_not_found")

    def test_qr_payment(self):
        buyer, shop = self.open_user(10_000), self.open_merchant(fee_bps=60)
        answer = self.ok("POST", "/v1/qr-payments", {"merchant": shop, "amount": 10_000,
                                                     "funding": {"wallet": 10_000}}, as_key=f"user:{buyer}")
        self.assertEqual(answer["value"], "60")
        self.assertEqual(self.ok("GET", f"/v1/merchants/{shop}")["balance"], "9940")

    # --- red packets, withdrawals ---------------------------------------------------------------

    def test_red_packet_claims_until_empty(self):
        sender = self.open_user(1000)
        claimers = [self.open_user() for _ in range(3)]
        packet = int(self.ok("POST", "/v1/red-packets", {"amount": 1000, "count": 2, "split": "random"},
                             as_key=f"user:{sender}")["value"])
        got = [int(self.ok("POST", f"/v1/red-packets/{packet}/claim", {}, as_key=f"user:{u}")["value"])
               for u in claimers[:2]]
        self.assertEqual(sum(got), 1000)
        self.assertTrue(all(share >= 1 for share in got))
        self.rejected("POST", f"/v1/red-packets/{packet}/claim", {}, "red_packet_empty",
                      as_key=f"user:{claimers[2]}")
        self.assertEqual(self.ok("GET", f"/v1/users/{claimers[0]}")["red_packet"], str(got[0]))

    def test_withdrawal_to_a_failing_bank_returns_the_money(self):
        user = self.open_user(5000)
        answer = self.rejected("POST", f"/v1/users/{user}/withdrawals",
                               {"amount": 3000, "bank": {"channel": 5, "reference": "W-1", "outcome": "failed"}},
                               "bank_failed")
        self.assertNotEqual(answer["value"], "0")
        self.assertEqual(self.ok("GET", f"/v1/users/{user}")["held"], "0")
        self.assertEqual(self.wallet(user), 5000)
        self.ok("POST", f"/v1/users/{user}/withdrawals",
                {"amount": 3000, "bank": {"channel": 5, "reference": "W-2", "outcome": "approved"}})
        self.assertEqual(self.wallet(user), 2000)
        # The same key again answers the settled outcome, the bank's failure included, and moves nothing.
        key = self.key()
        body = {"amount": 500, "bank": {"channel": 5, "reference": "W-4", "outcome": "failed"}}
        first = self.send("POST", f"/v1/users/{user}/withdrawals", body, idempotency_key=key)
        again = self.send("POST", f"/v1/users/{user}/withdrawals", body, idempotency_key=key)
        self.assertEqual((first[0], first[1]["result"]), (422, "bank_failed"), first)
        self.assertEqual((again[0], again[1]["result"], again[1]["value"], again[1].get("replayed")),
                         (422, "bank_failed", first[1]["value"], True), again)
        view = self.ok("GET", f"/v1/withdrawals/{first[1]['value']}")
        self.assertEqual((view["state"], view["amount"], view["user"]), ("returned", "500", str(user)))
        self.assertEqual(self.wallet(user), 2000)
        # A user may not claim the bank's answer for itself.
        status, _ = self.send("POST", f"/v1/users/{user}/withdrawals",
                              {"amount": 1, "bank": {"channel": 5, "reference": "W-3", "outcome": "approved"}},
                              as_key=f"user:{user}")
        self.assertEqual(status, 403)

    def test_metrics_count_payment_requests_and_notifications(self):
        self.open_user()
        status, _, text = self.server.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertIn('route="payments"', text)
        self.assertIn("capillary_notify_", text)

    def test_card_operations_without_channels_answer_503(self):
        user = self.open_user()
        status, answer = self.send("POST", f"/v1/users/{user}/top-ups",
                                   {"amount": 100, "card": {"token": "t", "bank": "ICBC"}}, as_key=f"user:{user}")
        self.assertEqual((status, answer["error"]["code"]), (503, "card_channels_unavailable"))

    # --- notifications ---------------------------------------------------------------------------

    def test_merchants_get_signed_callbacks_in_order(self):
        received = []
        master = self.master

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                key_id = self.headers["X-Capillary-Key"]
                expected = sign(derive_secret(master, key_id), "POST", self.path,
                                int(self.headers["X-Capillary-Timestamp"]), body)
                received.append((key_id, self.headers["X-Capillary-Signature"] == expected, json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks/capillary"
            buyer, shop = self.open_user(5000), self.open_merchant(callback_url=url)
            order = self.order(shop, 2000)
            self.assertEqual(self.pay(buyer, order, wallet=2000)[1]["result"], "ok")
            self.ok("POST", f"/v1/orders/{order}/confirm", {}, as_key=f"user:{buyer}")
            deadline = time.time() + 20
            while len(received) < 3 and time.time() < deadline:
                time.sleep(0.05)
            self.assertEqual([event["state"] for _, _, event in received],
                             ["awaiting_payment", "paid", "released"])
            self.assertEqual([event["sequence"] for _, _, event in received], [1, 2, 3])
            self.assertTrue(all(key == f"merchant:{shop}" and good for key, good, _ in received))
            self.assertTrue(all(event["order_id"] == order for _, _, event in received))
        finally:
            receiver.shutdown()
            receiver.server_close()

    def test_reconciliation_lists_every_mismatch(self):
        user = self.open_user()
        for reference, amount in [("R-1", 100), ("R-2", 200), ("R-3", 300)]:
            self.ok("POST", f"/v1/users/{user}/top-ups",
                    {"amount": amount, "bank": {"channel": 77, "reference": reference, "outcome": "approved"}})
        statement = ("date,bank_reference,our_reference,amount_fen,kind\n"
                     "2026-11-22,R-1,a,100,debit_card\n"      # matches
                     "2026-11-22,R-2,b,250,debit_card\n"      # the bank says 250
                     "2026-11-22,R-9,c,900,debit_card\n")     # unknown to the ledger; R-3 missing at the bank
        report = self.ok("POST", "/v1/reconciliations", {"channel": 77, "statement": statement})
        self.assertEqual((report["matched"], report["mismatches"]), (1, 3))
        kinds = sorted((m["kind"], m["bank_amount"], m["ledger_amount"]) for m in report["listed"])
        self.assertEqual(kinds, [("amount_differs", "250", "200"), ("missing_at_bank", "0", "300"),
                                 ("missing_in_ledger", "900", "0")])
        status, answer = self.send("POST", "/v1/reconciliations", {"channel": 77, "statement": "x,y\n"})
        self.assertEqual((status, answer["error"]["code"]), (400, "malformed_statement"))

    # --- batches, lookups, restart --------------------------------------------------------------

    def test_batch_and_lookup(self):
        buyer, shop = self.open_user(50_000), self.open_merchant()
        steps = [{"op": "create_order", "key": self.key(), "merchant": shop, "amount": 1000 + i} for i in range(5)]
        created = self.ok("POST", "/v1/payments/batch", {"steps": steps})["results"]
        orders = [int(r["value"]) for r in created]
        steps = []
        for i, order in enumerate(orders):
            steps.append({"op": "cashier", "order": order, "buyer": buyer})
            steps.append({"op": "pay", "key": self.key(), "order": order, "buyer": buyer,
                          "funding": {"wallet": 1000 + i}})
        results = self.ok("POST", "/v1/payments/batch", {"steps": steps})["results"]
        self.assertEqual([r["result"] for r in results[1::2]], ["ok"] * 5)
        self.assertEqual(results[0]["amount"], "1000")
        found = self.ok("POST", "/v1/lookup/orders", {"ids": orders + [999_999_999]})["orders"]
        self.assertEqual([o["state"] for o in found[:5]], ["paid"] * 5)
        self.assertIsNone(found[5])
        self.assertEqual(self.wallet(buyer), 50_000 - sum(1000 + i for i in range(5)))
        status, _ = self.send("POST", "/v1/payments/batch", {"steps": steps}, as_key=f"merchant:{shop}")
        self.assertEqual(status, 403)

    def test_batch_replays_and_errors(self):
        buyer, shop = self.open_user(10_000), self.open_merchant()
        key = self.key()
        step = {"op": "create_order", "key": key, "merchant": shop, "amount": 700}
        first = self.ok("POST", "/v1/payments/batch", {"steps": [step]})["results"][0]
        self.assertEqual(first["result"], "ok")
        # The same step spelled differently is the same step: replayed, same order.
        respelled = {"amount": "700", "merchant": str(shop), "key": key, "op": "create_order"}
        again = self.ok("POST", "/v1/payments/batch", {"steps": [respelled]})["results"][0]
        self.assertEqual((again["result"], again["value"], again.get("replayed")), ("ok", first["value"], True))
        # A different step under the same key is refused and changes nothing.
        other = self.ok("POST", "/v1/payments/batch", {"steps": [dict(step, amount=701)]})["results"][0]
        self.assertEqual(other["result"], "idempotency_key_reused")
        self.assertEqual(self.ok("GET", f"/v1/orders/{first['value']}")["amount"], "700")
        # A bad step is named by its path, and the batch as a whole is refused.
        bad = [dict(step, key=self.key()),
               {"op": "pay", "key": self.key(), "order": first["value"], "buyer": buyer, "funding": {"wallet": -1}}]
        status, answer = self.send("POST", "/v1/payments/batch", {"steps": bad})
        self.assertEqual((status, answer["error"]["field"]), (400, "steps[1].funding.wallet"))
        status, answer = self.send("POST", "/v1/payments/batch", {"steps": [step, 3]})
        self.assertEqual((status, answer["error"]["field"]), (400, "steps[1]"))
        status, answer = self.send("POST", "/v1/payments/batch", {"steps": [dict(step, colour="red")]})
        self.assertEqual((status, answer["error"]["code"], answer["error"]["field"]),
                         (400, "unknown_field", "steps[0].colour"))
        self.assertEqual(self.wallet(buyer), 10_000)

    def test_zz_restart_keeps_everything(self):
        buyer, shop = self.open_user(9000), self.open_merchant()
        order = self.order(shop, 4000)
        self.assertEqual(self.pay(buyer, order, wallet=4000)[1]["result"], "ok")
        before = self.ok("GET", f"/v1/orders/{order}")
        self.assertEqual(self.server.stop(), 0)
        self.server.start()
        self.assertEqual(self.ok("GET", f"/v1/orders/{order}"), before)
        self.assertEqual(self.wallet(buyer), 5000)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    api_test.BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main()
