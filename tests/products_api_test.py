#!/usr/bin/env python3
"""End-to-end tests of institutions, the money-market fund and the wealth marketplace
(docs/products-api.md) against a real `capillary serve --adjustable-clock`.

    products_api_test.py BUILD/capillary [unittest arguments]

Business time moves with POST /v1/platform/clock, so sale windows close, products mature, fund
subscriptions confirm on the next business day and income days pass, as they would over weeks.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api_test  # noqa: E402  (its Server runs `capillary serve`)
from tenant_test_case import TenantTestCase  # noqa: E402

DAY = 86_400
CNY = 100  # fen


class ProductsTestCase(TenantTestCase):
    server_args = ("--adjustable-clock",)

    def now(self):
        """Business time, in seconds."""
        return int(self.ok("GET", "/v1/platform/clock")["now_ns"]) // 1_000_000_000

    def advance(self, seconds):
        return self.ok("POST", "/v1/platform/clock", {"advance_s": seconds})

    def open_user(self, top_up=0):
        user = self.party()
        self.ok("POST", "/v1/users", {"id": user, "verified": True})
        if top_up:
            self.ok("POST", f"/v1/users/{user}/top-ups",
                    {"amount": top_up, "bank": {"channel": 3, "reference": self.key(), "outcome": "approved"}})
        return user

    def wallet(self, user):
        return int(self.ok("GET", f"/v1/users/{user}")["wallet"])

    def open_institution(self, kind, assets=0, solvency_bps=0):
        institution = self.party()
        self.ok("POST", "/v1/institutions",
                {"id": institution, "kind": kind, "assets": assets, "solvency_bps": solvency_bps})
        return institution


class WealthApiTest(ProductsTestCase):
    first_party = 5000

    def list_product(self, issuer, product_size, term, rate, min_amount=100 * CNY, window=DAY, **overrides):
        product = self.party()
        start = self.now()
        body = dict({"id": product, "size": product_size, "term_days": term, "annual_rate": rate,
                     "min_amount": min_amount, "sale_from": start, "sale_to": start + window}, **overrides)
        return product, self.send("POST", "/v1/products", body, as_key=f"partner:{issuer}")

    def listed(self, issuer, *args, **kwargs):
        product, (status, answer) = self.list_product(issuer, *args, **kwargs)
        self.assertEqual(status, 200, answer)
        return product

    def place(self, user, amount, max_term_days, min_rate):
        order = self.party()
        answer = self.ok("POST", "/v1/standing-orders",
                         {"id": order, "amount": amount, "max_term_days": max_term_days, "min_rate": min_rate},
                         as_key=f"user:{user}")
        return order, int(answer["value"])

    def test_admission_rules_at_their_boundaries(self):
        cases = [
            ("bank", 200_000_000_000 * CNY + 1, 0, None),
            ("bank", 200_000_000_000 * CNY, 0, "issuer_bank_assets_too_small"),
            ("insurer", 0, 15_000, None),
            ("insurer", 0, 14_999, "issuer_insurer_solvency_too_low"),
            ("fund_company", 10**15, 99_999, "issuer_kind_not_admitted"),
            ("other", 10**15, 99_999, "issuer_kind_not_admitted"),
        ]
        for kind, assets, solvency, refusal in cases:
            issuer = self.open_institution(kind, assets, solvency)
            product, (status, answer) = self.list_product(issuer, 1_000 * CNY, 30, "0.04")
            if refusal is None:
                self.assertEqual(status, 200, (kind, assets, solvency, answer))
                self.assertEqual(self.ok("GET", f"/v1/products/{product}")["state"], "on_sale")
            else:
                self.assertEqual((status, answer["result"]), (422, refusal), (kind, assets, solvency))
                self.assertEqual(self.send("GET", f"/v1/products/{product}")[0], 404)

    def test_only_the_platform_opens_institutions_and_an_issuer_lists_for_itself(self):
        user = self.open_user()
        status, _ = self.send("POST", "/v1/institutions", {"id": self.party(), "kind": "bank"},
                              as_key=f"user:{user}")
        self.assertEqual(status, 403)
        status, answer = self.send("POST", "/v1/institutions", {"id": self.party(), "kind": "hedge_fund"})
        self.assertEqual((status, answer["error"]["field"]), (400, "kind"))
        bank = self.open_institution("bank", 10**15)
        other = self.open_institution("bank", 10**15)
        start = self.now()
        status, _ = self.send("POST", "/v1/products",
                              {"id": self.party(), "institution": bank, "size": 1000, "term_days": 30,
                               "annual_rate": "0.04", "min_amount": 100, "sale_from": start,
                               "sale_to": start + DAY}, as_key=f"partner:{other}")
        self.assertEqual(status, 403)

    def test_bad_terms_are_refused_and_change_nothing(self):
        bank = self.open_institution("bank", 10**15)
        for overrides, field in [({"annual_rate": "4.35%"}, "annual_rate"), ({"annual_rate": "0.0000001"}, "annual_rate"),
                                 ({"size": -5}, "size"), ({"term_days": "x"}, "term_days"), ({"color": 1}, "color")]:
            product, (status, answer) = self.list_product(bank, 1_000 * CNY, 30, "0.04", **overrides)
            self.assertEqual((status, answer["error"]["field"]), (400, field), answer)
        for args, overrides in [((1_000 * CNY, 0, "0.04"), {}), ((1_000 * CNY, 30, "0.25"), {}),
                                ((1_000 * CNY, 30, "0.04"), {"min_amount": 2_000 * CNY}),
                                ((1_000 * CNY, 30, "0.04"), {"window": 0})]:
            product, (status, answer) = self.list_product(bank, *args, **overrides)
            self.assertEqual((status, answer["result"]), (422, "product_terms_invalid"), (args, overrides))
            self.assertEqual(self.send("GET", f"/v1/products/{product}")[0], 404)

    def test_matching_partial_fills_close_refund_and_maturity(self):
        bank = self.open_institution("bank", 10**15)
        insurer = self.open_institution("insurer", 0, 20_000)
        # Eligible for the first order (min 4%, at most 100 days): short and long, same rate; the
        # 180-day product pays more but is too long, the 3% one pays too little.
        short = self.listed(bank, 10_000 * CNY, 30, "0.045")
        long = self.listed(insurer, 50_000 * CNY, 90, "0.045")
        too_long = self.listed(bank, 50_000 * CNY, 180, "0.05")
        too_low = self.listed(bank, 50_000 * CNY, 30, "0.03")
        alice = self.open_user(top_up=20_000 * CNY)
        order, matched = self.place(alice, 15_000 * CNY, 100, "0.04")
        self.assertEqual(matched, 15_000 * CNY)
        got = self.ok("GET", f"/v1/standing-orders/{order}", as_key=f"user:{alice}")
        self.assertEqual(got["state"], "filled")
        self.assertEqual([(f["product"], int(f["amount"])) for f in got["fills"]],
                         [(str(short), 10_000 * CNY), (str(long), 5_000 * CNY)])
        self.assertEqual(self.wallet(alice), 5_000 * CNY)
        for product in (too_long, too_low):
            self.assertEqual(self.ok("GET", f"/v1/products/{product}")["sold"], "0")
        # A second buyer gets only what is left, first come first served; the rest stays open.
        bob = self.open_user(top_up=100_000 * CNY)
        order_b, matched_b = self.place(bob, 60_000 * CNY, 100, "0.045")
        self.assertEqual(matched_b, 45_000 * CNY)
        got = self.ok("GET", f"/v1/standing-orders/{order_b}", as_key=f"user:{bob}")
        self.assertEqual((got["state"], got["unmatched"]), ("open", str(15_000 * CNY)))
        # Another user cannot read or cancel it; bob cancels and gets the unmatched part back.
        self.assertEqual(self.send("GET", f"/v1/standing-orders/{order_b}", as_key=f"user:{alice}")[0], 404)
        self.assertEqual(self.send("POST", f"/v1/standing-orders/{order_b}/cancel", {},
                                   as_key=f"user:{alice}")[0], 403)
        self.ok("POST", f"/v1/standing-orders/{order_b}/cancel", {}, as_key=f"user:{bob}")
        self.assertEqual(self.wallet(bob), 55_000 * CNY)
        self.rejected("POST", f"/v1/standing-orders/{order_b}/cancel", {}, "standing_order_closed",
                      as_key=f"user:{bob}")
        # The sales close: both eligible products are sold out and established; the others raised
        # nothing and are unfilled.
        self.advance(DAY + 1)
        for product, state in [(short, "established"), (long, "established"), (too_long, "unfilled"),
                               (too_low, "unfilled")]:
            self.assertEqual(self.ok("GET", f"/v1/products/{product}")["state"], state, product)
        self.assertEqual(int(self.ok("GET", f"/v1/institutions/{bank}")["balance"]), 10_000 * CNY)
        # Maturity of the 30-day product: 1,000,000 fen × 4.5% × 30 / 365 = 3,698.63 → 3,699 fen.
        holdings = self.ok("GET", f"/v1/users/{alice}/wealth", as_key=f"user:{alice}")["holdings"]
        self.assertEqual({(h["product"], h["expected_interest"]) for h in holdings},
                         {(str(short), "3699"), (str(long), str(round(500_000 * 0.045 * 90 / 365)))})
        self.advance(30 * DAY)
        self.assertEqual(self.ok("GET", f"/v1/products/{short}")["state"], "matured")
        self.assertEqual(self.wallet(alice), 5_000 * CNY + 10_000 * CNY + 3_699)
        self.assertEqual(int(self.ok("GET", f"/v1/institutions/{bank}")["balance"]), -3_699)

    def test_a_cancelled_product_refunds_everyone(self):
        bank = self.open_institution("bank", 10**15)
        product = self.listed(bank, 100_000 * CNY, 60, "0.06")
        users = [self.open_user(top_up=1_000 * CNY) for _ in range(3)]
        for user in users:
            self.place(user, 1_000 * CNY, 60, "0.06")
            self.assertEqual(self.wallet(user), 0)
        other = self.open_institution("bank", 10**15)
        self.assertEqual(self.send("POST", f"/v1/products/{product}/cancel", {}, as_key=f"partner:{other}")[0], 403)
        self.ok("POST", f"/v1/products/{product}/cancel", {}, as_key=f"partner:{bank}")
        self.assertEqual(self.ok("GET", f"/v1/products/{product}")["state"], "cancelled")
        for user in users:
            self.assertEqual(self.wallet(user), 1_000 * CNY)
        self.rejected("POST", f"/v1/products/{product}/cancel", {}, "product_closed", as_key=f"partner:{bank}")

    def test_a_standing_order_needs_the_money_and_sane_terms(self):
        user = self.open_user(top_up=100 * CNY)
        self.rejected("POST", "/v1/standing-orders",
                      {"id": self.party(), "amount": 200 * CNY, "max_term_days": 30, "min_rate": "0.03"},
                      "insufficient_wallet", as_key=f"user:{user}")
        self.rejected("POST", "/v1/standing-orders",
                      {"id": self.party(), "amount": 50 * CNY, "max_term_days": 0, "min_rate": "0.03"},
                      "standing_order_terms_invalid", as_key=f"user:{user}")
        self.assertEqual(self.wallet(user), 100 * CNY)


if __name__ == "__main__":
    api_test.BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main()
