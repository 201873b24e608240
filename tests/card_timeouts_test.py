#!/usr/bin/env python3
"""When the bank does not answer in time, through the HTTP API against `capillary bank-sim`.

Channel TARDY approves everything after about 3 s, past the server's 2 s bank
call timeout, having acted when the call arrived. Covers: a card payment TARDY does not answer in
time, answered 202 pending and paid once the platform's own retry hears the bank, and a top-up
whose caller retries at once, each one charge at the bank, journaled once, reconciled; a late charge
for a payment the engine then refuses, credited back to the card; a withdrawal whose
payout times out, answered 202 pending with its hold kept, settled as paid out by the payout
resolver asking the bank, and a retry answering the settled outcome; a withdrawal whose server
is killed while its payout is at the bank, settled at the next start; and a card payment and a
card refund left pending when the server is killed, and a card payment still at the bank when it
is, finished at the next start from the card call log, the refund keeping its order's refund slot.
"""

import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api_test  # noqa: E402  (its Server runs `capillary serve`)
from bank_sim_case import BANKS, TARDY, BankSimTestCase  # noqa: E402

assert BANKS["channels"][TARDY - 1]["simulation"]["latency_ms_median"] >= 3000

# The resolver first asks 1 s after a timeout, and 5 s after a start.
SETTLE_WITHIN_S = 20


class CardTimeoutsTest(BankSimTestCase):
    first_party = 9000

    def user(self, wallet=0):
        user = self.party()
        self.ok("POST", "/v1/users", {"id": user, "verified": True})
        if wallet:
            self.ok("POST", f"/v1/users/{user}/top-ups",
                    {"amount": wallet, "bank": {"channel": 9, "reference": self.key(), "outcome": "approved"}})
        return user

    def shop_order(self, amount):
        """A new merchant and an order of `amount` it opened."""
        shop = self.party()
        self.ok("POST", "/v1/merchants", {"id": shop})
        return shop, int(self.ok("POST", "/v1/orders", {"amount": amount}, as_key=f"merchant:{shop}")["value"])

    def balances(self, user):
        view = self.ok("GET", f"/v1/users/{user}")
        return int(view["wallet"]), int(view["held"])

    def statement(self, channel, kind):
        return [line.split(",") for line in self.bank.statement(channel).splitlines()[1:]
                if line.endswith("," + kind)]

    def statement_amounts(self, channel, kind, reference):
        return [int(line[3]) for line in self.statement(channel, kind) if line[2] == reference]

    def withdrawal(self, withdrawal, as_key=None):
        status, view = self.send("GET", f"/v1/withdrawals/{withdrawal}", as_key=as_key or "platform:0")
        self.assertEqual(status, 200, view)
        return view

    def wait_gauge_zero(self, gauge):
        deadline = time.time() + SETTLE_WITHIN_S
        while f"{gauge} 0\n" not in self.server.request("GET", "/metrics")[2]:
            self.assertLess(time.time(), deadline, f"{gauge} is not back to 0:\n{self.server.log()}")
            time.sleep(0.2)

    def wait_paid(self, order):
        deadline = time.time() + SETTLE_WITHIN_S
        while self.ok("GET", f"/v1/orders/{order}")["state"] != "paid":
            self.assertLess(time.time(), deadline, f"the order was never paid:\n{self.server.log()}")
            time.sleep(0.2)

    def wait_settled(self, withdrawal):
        deadline = time.time() + SETTLE_WITHIN_S
        while time.time() < deadline:
            view = self.withdrawal(withdrawal)
            if view["state"] != "held":
                return view
            time.sleep(0.2)
        self.fail(f"withdrawal {withdrawal} still held after {SETTLE_WITHIN_S} s:\n{self.server.log()}")

    def test_a_card_payment_the_bank_does_not_answer_in_time_is_finished_by_the_platform(self):
        buyer = self.user()
        shop, order = self.shop_order(6000)
        key = self.key()
        body = {"funding": {"card": 6000}, "card": {"token": "tok-slow", "bank": "TARDY"}}
        status, answer = self.send("POST", f"/v1/orders/{order}/pay", body, as_key=f"user:{buyer}", idempotency_key=key)
        self.assertEqual((status, answer["result"]), (202, "pending"), answer)
        # The bank charged the card; the platform sends the charge again, hears so, and pays the order.
        self.wait_paid(order)
        view = self.ok("GET", f"/v1/orders/{order}")
        self.assertEqual((view["held"], view["channel"]), ("6000", TARDY))
        charged = [line for line in self.statement(TARDY, "debit_card") if int(line[3]) == 6000]
        self.assertEqual(len(charged), 1)
        # The same key answers the journaled payment, with no second charge.
        status, answer = self.send("POST", f"/v1/orders/{order}/pay", body, as_key=f"user:{buyer}", idempotency_key=key)
        self.assertEqual((status, answer["result"], answer.get("replayed")), (200, "ok", True), answer)
        self.assertEqual(self.statement_amounts(TARDY, "debit_card", charged[0][2]), [6000])
        report = self.ok("POST", "/v1/reconciliations", {"channel": TARDY, "statement": self.bank.statement(TARDY)})
        self.assertNotIn(charged[0][2], str(report["listed"]), report)

    def test_a_late_charge_for_a_payment_the_engine_refuses_is_reversed(self):
        buyer = self.user(wallet=1000)
        shop, order = self.shop_order(5000)
        body = {"funding": {"wallet": 2000, "card": 3000}, "card": {"token": "tok-short", "bank": "TARDY"}}
        status, answer = self.send("POST", f"/v1/orders/{order}/pay", body, as_key=f"user:{buyer}")
        self.assertEqual((status, answer["result"]), (202, "pending"), answer)
        # The platform hears the bank approved, the engine refuses the payment (the wallet part is
        # short), and the charge goes back to the card, itself answered late and sent again.
        deadline = time.time() + SETTLE_WITHIN_S
        while not [line for line in self.statement(TARDY, "refund") if line[2].startswith("reversal-")]:
            self.assertLess(time.time(), deadline, f"the charge was never reversed:\n{self.server.log()}")
            time.sleep(0.2)
        charge = [line for line in self.statement(TARDY, "debit_card") if line[3] == "3000"]
        self.assertEqual(len(charge), 1)
        self.assertEqual(self.statement_amounts(TARDY, "refund", "reversal-" + charge[0][2]), [3000])
        self.assertEqual(self.ok("GET", f"/v1/orders/{order}")["state"], "awaiting_payment")
        self.assertEqual(self.balances(buyer), (1000, 0))
        self.wait_gauge_zero("capillary_card_calls_pending")
        report = self.ok("POST", "/v1/reconciliations", {"channel": TARDY, "statement": self.bank.statement(TARDY)})
        self.assertGreaterEqual(report["reversed"], 1, report)
        self.assertNotIn(charge[0][2], str(report["listed"]), report)

    def test_a_top_up_the_bank_does_not_answer_in_time_credits_once(self):
        user = self.user()
        key = self.key()
        body = {"amount": 2500, "card": {"token": "tok-slow", "bank": "TARDY"}}
        status, answer = self.send("POST", f"/v1/users/{user}/top-ups", body, as_key=f"user:{user}", idempotency_key=key)
        self.assertEqual((status, answer["result"]), (202, "pending"), answer)
        # The caller retries at once: the same charge at the bank, journaled by whichever of the
        # retry and the platform's own comes first, once.
        status, answer = self.send("POST", f"/v1/users/{user}/top-ups", body, as_key=f"user:{user}", idempotency_key=key)
        self.assertEqual((status, answer["result"]), (200, "ok"), answer)
        self.assertEqual(self.balances(user), (2500, 0))
        # The platform's own retry comes, finds the top-up journaled, and stops.
        self.wait_gauge_zero("capillary_card_calls_pending")
        status, answer = self.send("POST", f"/v1/users/{user}/top-ups", body, as_key=f"user:{user}", idempotency_key=key)
        self.assertEqual((status, answer.get("replayed")), (200, True), answer)
        self.assertEqual(self.balances(user), (2500, 0))
        self.assertEqual(len([line for line in self.statement(TARDY, "debit_card") if int(line[3]) == 2500]), 1)

    def test_a_payout_the_bank_does_not_answer_in_time_stays_held_until_the_bank_says(self):
        user = self.user(wallet=10_000)
        key = self.key()
        body = {"amount": 4000, "card": {"token": "tok-out", "bank": "TARDY"}}
        status, answer = self.send("POST", f"/v1/users/{user}/withdrawals", body, as_key=f"user:{user}",
                                   idempotency_key=key)
        self.assertEqual((status, answer["result"]), (202, "pending"), answer)
        withdrawal = int(answer["value"])
        # The bank may have paid: the money stays held, neither back in the wallet nor gone.
        view = self.withdrawal(withdrawal, as_key=f"user:{user}")
        self.assertEqual((view["state"], view["amount"], view["channel"]), ("held", "4000", TARDY))
        self.assertEqual(self.balances(user), (10_000, 4000))
        # Another user cannot see it.
        self.assertEqual(self.send("GET", f"/v1/withdrawals/{withdrawal}", as_key=f"user:{self.user()}")[0], 404)
        # The resolver asks the bank, which paid: the hold is posted.
        self.assertEqual(self.wait_settled(withdrawal)["state"], "paid_out")
        self.assertEqual(self.balances(user), (6000, 0))
        # The retry answers the settled outcome; the bank paid once.
        status, answer = self.send("POST", f"/v1/users/{user}/withdrawals", body, as_key=f"user:{user}",
                                   idempotency_key=key)
        self.assertEqual((status, answer["result"], answer["value"]), (200, "ok", str(withdrawal)), answer)
        self.assertEqual(len([line for line in self.statement(TARDY, "credit_card") if int(line[3]) == 4000]), 1)
        self.assertEqual(self.balances(user), (6000, 0))
        self.wait_gauge_zero("capillary_payouts_unresolved")

    def test_a_payout_at_the_bank_when_the_server_dies_is_settled_at_the_next_start(self):
        user = self.user(wallet=9000)
        body = {"amount": 3500, "card": {"token": "tok-crash", "bank": "TARDY"}}
        self.kill_while_at_the_bank(f"/v1/users/{user}/withdrawals", body, f"user:{user}", "credit_card", 3500)
        self.assertEqual(self.balances(user), (9000, 3500))
        deadline = time.time() + SETTLE_WITHIN_S
        while self.balances(user) != (5500, 0):
            self.assertLess(time.time(), deadline, f"not settled:\n{self.server.log()}")
            time.sleep(0.2)
        self.assertEqual(len([line for line in self.statement(TARDY, "credit_card") if int(line[3]) == 3500]), 1)
        self.wait_gauge_zero("capillary_payouts_unresolved")

    def test_a_card_payment_pending_when_the_server_dies_is_finished_at_the_next_start(self):
        buyer = self.user()
        shop, order = self.shop_order(4200)
        body = {"funding": {"card": 4200}, "card": {"token": "tok-restart", "bank": "TARDY"}}
        status, answer = self.send("POST", f"/v1/orders/{order}/pay", body, as_key=f"user:{buyer}")
        self.assertEqual((status, answer["result"]), (202, "pending"), answer)
        # Killed before the platform's retry hears the bank: the promise to finish is on disk.
        self.kill_and_restart()
        self.assertEqual(self.ok("GET", f"/v1/orders/{order}")["state"], "awaiting_payment")
        self.wait_paid(order)
        self.assertIn("was unfinished at the last stop", self.server.log())
        charged = [line for line in self.statement(TARDY, "debit_card") if int(line[3]) == 4200]
        self.assertEqual(len(charged), 1)
        self.wait_gauge_zero("capillary_card_calls_pending")
        report = self.ok("POST", "/v1/reconciliations", {"channel": TARDY, "statement": self.bank.statement(TARDY)})
        self.assertNotIn(charged[0][2], str(report["listed"]), report)

    def test_a_card_payment_at_the_bank_when_the_server_dies_is_finished_at_the_next_start(self):
        buyer = self.user()
        shop, order = self.shop_order(4700)
        body = {"funding": {"card": 4700}, "card": {"token": "tok-died", "bank": "TARDY"}}
        # Killed before anyone is answered: the call was logged before it was sent, without its
        # channel, which the next start finds by asking the bank.
        self.kill_while_at_the_bank(f"/v1/orders/{order}/pay", body, f"user:{buyer}", "debit_card", 4700)
        self.wait_paid(order)
        self.assertEqual(self.ok("GET", f"/v1/orders/{order}")["channel"], TARDY)
        self.assertIn("was unfinished at the last stop", self.server.log())
        self.assertEqual(len([line for line in self.statement(TARDY, "debit_card") if int(line[3]) == 4700]), 1)
        self.wait_gauge_zero("capillary_card_calls_pending")

    def test_a_card_refund_pending_when_the_server_dies_keeps_its_slot_and_is_finished_at_the_next_start(self):
        buyer = self.user()
        shop, order = self.shop_order(3000)
        # Paid by card on TARDY as a gateway tier reports it, so the refund goes to TARDY.
        self.ok("POST", f"/v1/orders/{order}/pay",
                {"buyer": buyer, "funding": {"card": 3000},
                 "bank": {"channel": TARDY, "reference": f"TARDY-{order}", "outcome": "approved"}})
        status, answer = self.send("POST", f"/v1/orders/{order}/refund", {"amount": 1000}, as_key=f"merchant:{shop}")
        self.assertEqual((status, answer["result"]), (202, "pending"), answer)
        self.kill_and_restart()
        # The refund left pending holds the order's refund slot again: a second refund, which would
        # read the same card part, waits.
        status, answer = self.send("POST", f"/v1/orders/{order}/refund", {"amount": 500}, as_key=f"merchant:{shop}")
        self.assertEqual((status, answer["error"]["code"]), (409, "refund_in_progress"), answer)
        deadline = time.time() + SETTLE_WITHIN_S
        while self.ok("GET", f"/v1/orders/{order}")["held"] != "2000":
            self.assertLess(time.time(), deadline, f"the refund was never finished:\n{self.server.log()}")
            time.sleep(0.2)
        refunds = [line for line in self.statement(TARDY, "refund") if line[2].startswith("refund-")]
        self.assertEqual([int(line[3]) for line in refunds], [1000])
        self.wait_gauge_zero("capillary_card_calls_pending")
        self.assertEqual(self.balances(buyer), (0, 0))

    def kill_while_at_the_bank(self, path, body, as_key, kind, amount):
        """POSTs `body`, and kills and restarts the server once TARDY holds the call it makes (the
        bank decides on arrival, then takes about 3 s to answer)."""
        sent = threading.Thread(target=lambda: self.send_quietly("POST", path, body, as_key=as_key))
        sent.start()
        deadline = time.time() + 10
        while not [line for line in self.statement(TARDY, kind) if int(line[3]) == amount]:
            self.assertLess(time.time(), deadline, f"the {kind} call never reached the bank")
            time.sleep(0.05)
        self.kill_and_restart()
        sent.join()

    def kill_and_restart(self):
        self.server.process.send_signal(signal.SIGKILL)
        self.server.process.wait()
        self.server.start()

    def send_quietly(self, *args, **kwargs):
        try:
            self.send(*args, **kwargs)
        except OSError:
            pass  # the server was killed under this request


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    api_test.BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main()
