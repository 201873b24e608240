#!/usr/bin/env python3
"""Card refunds end to end: `capillary serve` charging and refunding cards through a real
`capillary bank-sim` (docs/payments.md, docs/channels.md).

    card_refunds_test.py BUILD/capillary [unittest arguments]

Four simulated channels: GOOD (channel 1) approves everything, BAD (channel 2) answers every call
with a bank error, SLOW (channel 3) approves after about 1.2 s, TARDY (channel 4) approves after
about 3 s, past the server's 2 s bank call timeout. Covers: a card-paid order refunded
in part and then in full through GOOD, the bank's statement listing the charge and both refunds,
and reconciliation matching them all; a card charge for a payment the engine then refuses (the
wallet part short) credited back to the card and paired in reconciliation; an idempotent retry of a refund answering the first answer;
a refund through BAD putting the card part in the buyer's wallet (answer and order view say so),
nothing lost, escrow emptied; a refund TARDY does not answer in time answered 202 pending and
finished by the platform sending it again, to the card once, its retry with the same key replayed,
reconciled; a second refund of an order refused while the first is at the bank;
and batched refunds carrying the bank's answer in the body, reconciled in both directions.
"""

import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api_test  # noqa: E402  (its Server runs `capillary serve`)
from bank_sim_case import BAD, GOOD, SLOW, TARDY, BankSimTestCase  # noqa: E402

class CardRefundsTest(BankSimTestCase):
    first_party = 7000

    def open_parties(self):
        buyer, shop = self.party(), self.party()
        self.ok("POST", "/v1/users", {"id": buyer, "verified": True})
        self.ok("POST", "/v1/merchants", {"id": shop})
        return buyer, shop

    def order(self, shop, amount):
        return int(self.ok("POST", "/v1/orders", {"amount": amount}, as_key=f"merchant:{shop}")["value"])

    def card_paid_order(self, channel, amount, reference):
        """A new buyer's order at a new shop, paid by card on `channel` as the platform's gateway tier
        reports it, with the bank's `reference` (the charge never reaches the simulated bank)."""
        buyer, shop = self.open_parties()
        order = self.order(shop, amount)
        self.ok("POST", f"/v1/orders/{order}/pay",
                {"buyer": buyer, "funding": {"card": amount},
                 "bank": {"channel": channel, "reference": reference, "outcome": "approved"}})
        return buyer, shop, order

    def wallet(self, user):
        return int(self.ok("GET", f"/v1/users/{user}")["wallet"])

    def refund(self, shop, order, amount, idempotency_key=None):
        status, answer = self.send("POST", f"/v1/orders/{order}/refund", {"amount": amount},
                                   as_key=f"merchant:{shop}", idempotency_key=idempotency_key)
        self.assertEqual(status, 200, answer)
        return answer

    def reconcile(self, channel):
        return self.ok("POST", "/v1/reconciliations", {"channel": channel, "statement": self.bank.statement(channel)})

    def statement_lines(self, channel, kind):
        return [line.split(",") for line in self.bank.statement(channel).splitlines()[1:]
                if line.endswith("," + kind)]

    def test_card_refunds_through_the_bank_reconcile_clean(self):
        buyer, shop = self.open_parties()
        self.ok("POST", f"/v1/users/{buyer}/top-ups",
                {"amount": 2000, "bank": {"channel": 9, "reference": self.key(), "outcome": "approved"}})
        order = self.order(shop, 10_000)
        status, paid = self.send("POST", f"/v1/orders/{order}/pay",
                                 {"funding": {"wallet": 2000, "card": 8000}, "card": {"token": "tok-1", "bank": "GOOD"}},
                                 as_key=f"user:{buyer}")
        self.assertEqual((status, paid["result"]), (200, "ok"), paid)
        self.assertEqual(self.ok("GET", f"/v1/orders/{order}")["channel"], GOOD)

        # 3,000 of the card's 8,000 back to the card; then a retry with the same key: same answer,
        # no second operation at the bank.
        key = self.key()
        first = self.refund(shop, order, 3000, idempotency_key=key)
        self.assertEqual((first["result"], first["card_refund"]), ("ok", "to_card"))
        again = self.refund(shop, order, 3000, idempotency_key=key)
        self.assertEqual((again["card_refund"], again.get("replayed")), ("to_card", True))
        # The rest: 5,000 to the card, 2,000 to the wallet.
        rest = self.refund(shop, order, 7000)
        self.assertEqual((rest["result"], rest["card_refund"]), ("ok", "to_card"))
        self.assertEqual(self.wallet(buyer), 2000)
        view = self.ok("GET", f"/v1/orders/{order}")
        self.assertEqual((view["state"], view["held"], view["refunded"]), ("refunded", "0", "10000"))
        self.assertNotIn("card_refund", view)

        refunds = [line for line in self.statement_lines(GOOD, "refund") if line[2].startswith("refund-")]
        self.assertEqual(sorted(int(line[3]) for line in refunds), [3000, 5000])
        self.assertEqual(len([line for line in self.statement_lines(GOOD, "debit_card") if line[3] == "8000"]), 1)
        report = self.reconcile(GOOD)
        self.assertEqual((report["matched"], report["mismatches"]), (3, 0), report)

    def test_a_charge_for_a_payment_the_engine_refuses_is_reversed(self):
        buyer, shop = self.open_parties()
        self.ok("POST", f"/v1/users/{buyer}/top-ups",
                {"amount": 1000, "bank": {"channel": 9, "reference": self.key(), "outcome": "approved"}})
        order = self.order(shop, 5000)
        # The card is charged before the engine sees that the wallet part is short.
        status, answer = self.send("POST", f"/v1/orders/{order}/pay",
                                   {"funding": {"wallet": 2000, "card": 3000}, "card": {"token": "tok-9", "bank": "GOOD"}},
                                   as_key=f"user:{buyer}")
        self.assertEqual((status, answer["result"]), (422, "insufficient_wallet"), answer)
        charge = [line for line in self.statement_lines(GOOD, "debit_card") if line[3] == "3000"]
        self.assertEqual(len(charge), 1)
        # The platform credits the charge back to the card: the buyer loses nothing.
        deadline = time.time() + 20
        while not [line for line in self.statement_lines(GOOD, "refund") if line[2] == "reversal-" + charge[0][2]]:
            self.assertLess(time.time(), deadline, "the charge was never reversed")
            time.sleep(0.1)
        reversal = [line for line in self.statement_lines(GOOD, "refund") if line[2] == "reversal-" + charge[0][2]]
        self.assertEqual(reversal[0][3], "3000")
        self.assertEqual(self.ok("GET", f"/v1/orders/{order}")["state"], "awaiting_payment")
        self.assertEqual(self.wallet(buyer), 1000)
        # Reconciliation pairs the two lines the ledger never saw instead of listing them.
        report = self.reconcile(GOOD)
        self.assertGreaterEqual(report["reversed"], 1, report)
        self.assertNotIn(charge[0][2], str(report["listed"]), report)

    def test_a_failing_bank_puts_the_card_part_in_the_wallet(self):
        buyer, shop, order = self.card_paid_order(BAD, 4000, "BAD-CHARGE-1")
        answer = self.refund(shop, order, 1500)
        self.assertEqual((answer["result"], answer["value"], answer["card_refund"]), ("ok", "1500", "to_wallet"))
        self.assertEqual(self.wallet(buyer), 1500)
        view = self.ok("GET", f"/v1/orders/{order}")
        self.assertEqual((view["held"], view["card_refund"]), ("2500", "to_wallet"))
        self.refund(shop, order, 2500)
        self.assertEqual(self.wallet(buyer), 4000)  # every fen back, none stuck in escrow
        self.assertEqual(self.ok("GET", f"/v1/orders/{order}")["state"], "refunded")
        self.assertEqual(self.statement_lines(BAD, "refund"), [])
        # The bank shows nothing: only the reported charge is unmatched, no refund is.
        report = self.reconcile(BAD)
        self.assertEqual([m["ledger_amount"] for m in report["listed"]], ["4000"], report)

    def test_a_refund_the_bank_does_not_answer_in_time_is_finished_by_the_platform(self):
        buyer, shop, order = self.card_paid_order(TARDY, 3000, "TARDY-CHARGE-1")
        key = self.key()
        status, answer = self.send("POST", f"/v1/orders/{order}/refund", {"amount": 1000},
                                   as_key=f"merchant:{shop}", idempotency_key=key)
        self.assertEqual((status, answer["result"]), (202, "pending"), answer)
        # The bank did credit it, and the platform, sending the same refund again, hears so and
        # journals it: to the card, never also to the wallet.
        deadline = time.time() + 20
        while self.ok("GET", f"/v1/orders/{order}")["held"] != "2000":
            self.assertLess(time.time(), deadline, "the refund was never finished")
            time.sleep(0.2)
        self.assertEqual(self.wallet(buyer), 0)
        self.assertEqual([int(line[3]) for line in self.statement_lines(TARDY, "refund")], [1000])
        # The same key again: the journaled refund, without another bank call (a 409 only while
        # the platform's retry still holds the order's refund slot, a moment after journaling).
        deadline = time.time() + 10
        while True:
            status, again = self.send("POST", f"/v1/orders/{order}/refund", {"amount": 1000},
                                      as_key=f"merchant:{shop}", idempotency_key=key)
            if status != 409 or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(status, 200, again)
        self.assertEqual((again["result"], again["card_refund"], again.get("replayed")), ("ok", "to_card", True), again)
        self.assertEqual(self.ok("GET", f"/v1/orders/{order}")["held"], "2000")
        self.assertEqual([int(line[3]) for line in self.statement_lines(TARDY, "refund")], [1000])
        # Reconciled: the refund matches; only the charge the gateway tier reported is the ledger's
        # alone (it never reached this bank).
        report = self.reconcile(TARDY)
        self.assertEqual((report["matched"], [m["ledger_amount"] for m in report["listed"]]), (1, ["3000"]), report)

    def test_a_second_refund_waits_while_the_first_is_at_the_bank(self):
        buyer, shop, order = self.card_paid_order(SLOW, 2000, "SLOW-CHARGE-1")
        first = {}
        worker = threading.Thread(target=lambda: first.update(self.refund(shop, order, 1500)))
        worker.start()
        time.sleep(0.5)  # the first is at the bank (about 1.2 s, inside the 2 s call timeout)
        status, answer = self.send("POST", f"/v1/orders/{order}/refund", {"amount": 1500}, as_key=f"merchant:{shop}")
        self.assertEqual((status, answer["error"]["code"]), (409, "refund_in_progress"))
        worker.join()
        self.assertEqual((first["result"], first["card_refund"]), ("ok", "to_card"))
        # Once answered, the next refund goes through and cannot take the same card part again.
        self.assertEqual(self.refund(shop, order, 500)["card_refund"], "to_card")
        self.assertEqual(sorted(int(line[3]) for line in self.statement_lines(SLOW, "refund")), [500, 1500])

    def test_a_batched_refund_carries_the_banks_answer(self):
        # A gateway tier's own channel, kept apart from the simulated ones so their reconciliations
        # see only what went through the simulator.
        tier = 5
        buyer, shop, order = self.card_paid_order(tier, 3000, "B-BATCH-CHARGE")
        steps = [
            {"op": "refund", "key": self.key(), "order": order, "merchant": shop, "amount": 1000,
             "bank": {"channel": tier, "reference": "B-BATCH-REFUND", "outcome": "approved"}},
            {"op": "refund", "key": self.key(), "order": order, "merchant": shop, "amount": 1000,
             "bank": {"channel": tier, "reference": "B-BATCH-REFUND-2", "outcome": "declined"}},
            {"op": "refund", "key": self.key(), "order": order, "merchant": shop, "amount": 1000},
        ]
        results = self.ok("POST", "/v1/payments/batch", {"steps": steps})["results"]
        self.assertEqual([(r["result"], r.get("card_refund")) for r in results],
                         [("ok", "to_card"), ("ok", "to_wallet"), ("bank_answer_missing", None)])
        self.assertEqual(self.wallet(buyer), 1000)
        self.assertEqual(self.ok("GET", f"/v1/orders/{order}")["held"], "1000")
        # The approved one is on the ledger with the bank's reference, ready to match its line.
        statement = ("date,bank_reference,our_reference,amount_fen,kind\n"
                     "2026-12-01,B-BATCH-CHARGE,c,3000,debit_card\n"
                     "2026-12-01,B-BATCH-REFUND,r,1000,refund\n")
        report = self.ok("POST", "/v1/reconciliations", {"channel": tier, "statement": statement})
        self.assertEqual((report["matched"], report["mismatches"]), (2, 0), report)
        # Both directions: a refund the ledger does not know, a ledger refund the bank lists as a
        # payout (so not as this refund), and a refund amount that differs.
        statement = ("date,bank_reference,our_reference,amount_fen,kind\n"
                     "2026-12-01,B-BATCH-CHARGE,c,3000,debit_card\n"
                     "2026-12-01,B-BATCH-REFUND,r,1000,credit_card\n"
                     "2026-12-01,B-UNKNOWN,u,700,refund\n")
        report = self.ok("POST", "/v1/reconciliations", {"channel": tier, "statement": statement})
        self.assertEqual(sorted((m["kind"], m["bank_amount"], m["ledger_amount"]) for m in report["listed"]),
                         [("missing_at_bank", "0", "1000"), ("missing_in_ledger", "1000", "0"),
                          ("missing_in_ledger", "700", "0")])
        statement = statement.replace("B-BATCH-REFUND,r,1000,credit_card", "B-BATCH-REFUND,r,900,refund")
        report = self.ok("POST", "/v1/reconciliations", {"channel": tier, "statement": statement})
        self.assertIn(("amount_differs", "900", "1000"),
                      [(m["kind"], m["bank_amount"], m["ledger_amount"]) for m in report["listed"]])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    api_test.BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main()
