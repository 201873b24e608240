#!/usr/bin/env python3
"""End-to-end tests of institutions, the money-market fund and the wealth marketplace
(docs/products-api.md) against a real `capillary serve --adjustable-clock`.

    products_api_test.py BUILD/capillary [unittest arguments]

Business time moves with POST /v1/platform/clock, so sale windows close, products mature, fund
subscriptions confirm on the next business day and income days pass, as they would over weeks.
"""

import os
import sys
import time
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

    def test_a_product_below_its_size_at_close_refunds_its_subscribers(self):
        insurer = self.open_institution("insurer", 0, 15_000)
        product = self.listed(insurer, 1_000_000 * CNY, 180, "0.05", window=2 * DAY)
        users = {self.open_user(top_up=amount): amount for amount in (300 * CNY, 4_321 * CNY)}
        for user, amount in users.items():
            self.assertEqual(self.place(user, amount, 365, "0.05")[1], amount)
        self.advance(DAY)
        self.assertEqual(self.ok("GET", f"/v1/products/{product}")["state"], "on_sale")
        self.assertEqual([self.wallet(user) for user in users], [0, 0])
        self.advance(DAY)
        got = self.ok("GET", f"/v1/products/{product}", as_key=f"partner:{insurer}")
        self.assertEqual((got["state"], got["sold"]), ("unfilled", str(sum(users.values()))))
        self.assertEqual(sorted(int(f["amount"]) for f in got["subscriptions"]), sorted(users.values()))
        for user, amount in users.items():
            self.assertEqual(self.wallet(user), amount)
        self.assertEqual(int(self.ok("GET", f"/v1/institutions/{insurer}")["balance"]), 0)

    def test_a_standing_order_needs_the_money_and_sane_terms(self):
        user = self.open_user(top_up=100 * CNY)
        self.rejected("POST", "/v1/standing-orders",
                      {"id": self.party(), "amount": 200 * CNY, "max_term_days": 30, "min_rate": "0.03"},
                      "insufficient_wallet", as_key=f"user:{user}")
        self.rejected("POST", "/v1/standing-orders",
                      {"id": self.party(), "amount": 50 * CNY, "max_term_days": 0, "min_rate": "0.03"},
                      "standing_order_terms_invalid", as_key=f"user:{user}")
        self.assertEqual(self.wallet(user), 100 * CNY)


def china_day(seconds):
    return (seconds + 8 * 3600) // DAY


def weekday(day):
    """0 is Monday (1970-01-01, day 0, was a Thursday)."""
    return (day + 3) % 7


def income_of(shares, income_e4):
    """A holder's income for a day, floored to the fen: shares (fen) × income per 10,000 shares."""
    return shares * income_e4 // 100_000_000


def date_of(day):
    import datetime
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=day)).isoformat()


class FundApiTest(ProductsTestCase):
    first_party = 8000

    def advance_to(self, target_weekday, hour):
        """Moves business time to the next `target_weekday` (0: Monday) at `hour`, China time."""
        now = self.now()
        day = china_day(now) + 1
        while weekday(day) != target_weekday:
            day += 1
        self.advance(day * DAY - 8 * 3600 + hour * 3600 - now)
        return day

    def open_fund(self):
        company = self.open_institution("fund_company")
        fund = self.party()
        self.ok("POST", "/v1/funds", {"id": fund}, as_key=f"partner:{company}")
        self.ok("POST", f"/v1/funds/{fund}/float", {"amount": 10_000_000 * CNY}, as_key=f"partner:{company}")
        return company, fund

    def subscribe(self, user, fund, amount):
        return self.ok("POST", f"/v1/funds/{fund}/subscriptions", {"amount": amount}, as_key=f"user:{user}")

    def redeem(self, user, fund, amount, instant_only):
        return self.send("POST", f"/v1/funds/{fund}/redemptions", {"amount": amount, "instant_only": instant_only},
                         as_key=f"user:{user}")

    def holder(self, fund, user):
        return self.ok("GET", f"/v1/funds/{fund}/holders/{user}", as_key=f"user:{user}")

    def holder_with_confirmed_shares(self, fund, amount):
        """A user whose `amount` of shares are confirmed: subscribed on a Monday, now Tuesday."""
        user = self.open_user(top_up=amount)
        self.advance_to(0, 10)
        self.subscribe(user, fund, amount)
        self.advance_to(1, 10)
        self.assertEqual(int(self.holder(fund, user)["shares"]), amount)
        return user

    def run_income(self, company, fund, day, income):
        answer = self.ok("POST", f"/v1/funds/{fund}/income", {"day": date_of(day), "income_per_10k": income},
                         as_key=f"partner:{company}")
        for _ in range(500):
            run = self.ok("GET", f"/v1/funds/{fund}/income/{date_of(day)}", as_key=f"partner:{company}")
            if run["done"]:
                return int(answer["value"]), run
            time.sleep(0.01)
        self.fail(f"the income run of {date_of(day)} did not finish: {run}")

    def test_a_friday_subscription_confirms_on_monday(self):
        company, fund = self.open_fund()
        user = self.open_user(top_up=1_000 * CNY)
        friday = self.advance_to(4, 10)
        confirm_day = int(self.subscribe(user, fund, 1_000 * CNY)["value"])
        self.assertEqual(confirm_day, friday + 3)
        held = self.holder(fund, user)
        self.assertEqual((held["shares"], held["pending"], held["confirm_day"]),
                         ("0", str(1_000 * CNY), date_of(friday + 3)))
        self.assertEqual(self.wallet(user), 0)
        status, answer = self.redeem(user, fund, 1 * CNY, False)
        self.assertEqual((status, answer["result"]), (422, "fund_holding_insufficient"))
        self.advance_to(6, 23)  # Sunday night: still pending
        self.assertEqual(self.holder(fund, user)["pending"], str(1_000 * CNY))
        self.advance(3600 + 60)  # Monday, 00:01 China time
        held = self.holder(fund, user)
        self.assertEqual((held["shares"], held["pending"]), (str(1_000 * CNY), "0"))
        # Someone else's holding is not the user's to see; the fund company sees it.
        other = self.open_user()
        self.assertEqual(self.send("GET", f"/v1/funds/{fund}/holders/{user}", as_key=f"user:{other}")[0], 404)
        self.ok("GET", f"/v1/funds/{fund}/holders/{user}", as_key=f"partner:{company}")

    def test_a_replayed_subscription_subscribes_once_and_a_forged_one_nothing(self):
        company, fund = self.open_fund()
        user = self.open_user(top_up=1_000 * CNY)
        path, body, key = f"/v1/funds/{fund}/subscriptions", {"amount": 300 * CNY}, self.key()
        first = self.send("POST", path, body, as_key=f"user:{user}", idempotency_key=key)
        again = self.send("POST", path, body, as_key=f"user:{user}", idempotency_key=key)
        self.assertEqual(first[0], 200)
        self.assertEqual((again[0], again[1].get("replayed")), (200, True))
        other = self.send("POST", path, {"amount": 400 * CNY}, as_key=f"user:{user}", idempotency_key=key)
        self.assertEqual((other[0], other[1]["result"]), (409, "idempotency_key_reused"))
        self.assertEqual(self.holder(fund, user)["pending"], str(300 * CNY))
        self.assertEqual(self.wallet(user), 700 * CNY)
        # Another user's signature cannot subscribe for this one; a bad signature reaches nothing.
        mallory = self.open_user()
        status, _ = self.send("POST", path, {"user": user, "amount": 100 * CNY}, as_key=f"user:{mallory}")
        self.assertEqual(status, 403)
        status, _ = self.send("POST", path, body, as_key=f"user:{user}", secret="not the secret")
        self.assertEqual(status, 401)
        for raw in ({"amount": "1.5"}, {"amount": 100, "extra": 1}, {}):
            status, answer = self.send("POST", path, raw, as_key=f"user:{user}")
            self.assertEqual(status, 400, (raw, answer))
        self.assertEqual((self.holder(fund, user)["pending"], self.wallet(user)), (str(300 * CNY), 700 * CNY))

    def test_the_instant_redemption_limit_at_its_boundaries(self):
        company, fund = self.open_fund()
        user = self.holder_with_confirmed_shares(fund, 40_000 * CNY)
        self.assertEqual(self.redeem(user, fund, 999_999, True), (200, {"result": "ok", "value": "999999"}))
        self.assertEqual(self.wallet(user), 999_999)
        status, answer = self.redeem(user, fund, 2, True)  # 10,000.01 in the day
        self.assertEqual((status, answer["result"]), (422, "fund_instant_limit_exceeded"))
        self.assertEqual(self.redeem(user, fund, 1, True)[0], 200)  # exactly 10,000.00
        self.assertEqual((self.wallet(user), self.holder(fund, user)["instant_left_today"]), (1_000_000, "0"))
        # The next China day the limit is whole again; past it, the rest settles the business day after.
        self.advance_to(2, 10)  # Wednesday
        status, answer = self.redeem(user, fund, 1_000_001, True)
        self.assertEqual((status, answer["result"]), (422, "fund_instant_limit_exceeded"))
        self.assertEqual(self.redeem(user, fund, 1_000_001, False), (200, {"result": "ok", "value": "1000000"}))
        self.assertEqual(self.wallet(user), 2_000_000)
        self.assertEqual(int(self.holder(fund, user)["shares"]), 40_000 * CNY - 2_000_001)
        self.advance_to(3, 10)  # Thursday: the normal part arrives
        self.assertEqual(self.wallet(user), 2_000_001)
        # Paying at checkout from shares counts against the same daily limit.
        merchant = self.party()
        self.ok("POST", "/v1/merchants", {"id": merchant})
        order = int(self.ok("POST", "/v1/orders", {"amount": 600_000}, as_key=f"merchant:{merchant}")["value"])
        self.ok("POST", f"/v1/orders/{order}/pay", {"funding": {"fund": 600_000, "fund_id": fund}},
                as_key=f"user:{user}")
        got = self.ok("GET", f"/v1/orders/{order}", as_key=f"user:{user}")
        self.assertEqual((got["state"], got["funding"]["fund"], got["fund_id"]), ("paid", "600000", str(fund)))
        status, answer = self.redeem(user, fund, 400_001, True)
        self.assertEqual((status, answer["result"]), (422, "fund_instant_limit_exceeded"))
        self.assertEqual(self.redeem(user, fund, 400_000, True)[0], 200)
        status, answer = self.send("POST", f"/v1/orders/{order}/pay", {"funding": {"fund": 1}},
                                   as_key=f"user:{user}")
        self.assertEqual((status, answer["error"]["field"]), (400, "funding.fund_id"))

    def test_income_floors_per_holder_residue_and_the_7_day_yield(self):
        company, fund = self.open_fund()
        shares = {self.open_user(top_up=amount): amount for amount in (12_345_678, 3_333_333, 99, 1, 100)}
        emptied = max(shares, key=lambda user: shares[user] == 100)
        monday = self.advance_to(0, 10)
        for user, amount in shares.items():
            self.subscribe(user, fund, amount)
        self.advance_to(1, 10)  # confirmed on Tuesday
        self.assertEqual(self.redeem(emptied, fund, 100, True)[0], 200)
        shares[emptied] = 0
        self.advance_to(2, 10)  # Wednesday: Tuesday's income is declared
        tuesday = monday + 1
        declared, run = self.run_income(company, fund, tuesday, "0.6500")
        expected = {user: income_of(amount, 6500) for user, amount in shares.items()}
        eligible = sum(shares.values())
        self.assertEqual(declared, income_of(eligible, 6500))
        self.assertEqual((int(run["credited"]), int(run["residue"])),
                         (sum(expected.values()), declared - sum(expected.values())))
        self.assertEqual(int(run["credited"]) + int(run["residue"]), declared)
        for user, income in expected.items():
            held = self.holder(fund, user)
            self.assertEqual((int(held["yesterday_income"]), int(held["cumulative_income"]), int(held["shares"])),
                             (income, income, shares[user] + income), user)
        self.assertEqual(self.ok("GET", f"/v1/funds/{fund}")["residue_total"], run["residue"])
        # Declaring the same day again changes nothing; neither do a day not over yet and a stranger.
        for body, result in [({"day": date_of(tuesday), "income_per_10k": "0.6500"}, "fund_income_already_declared"),
                             ({"day": date_of(tuesday + 1), "income_per_10k": "0.6500"}, "fund_income_day_invalid")]:
            self.rejected("POST", f"/v1/funds/{fund}/income", body, result, as_key=f"partner:{company}")
        stranger = self.open_institution("fund_company")
        status, _ = self.send("POST", f"/v1/funds/{fund}/income", {"day": date_of(tuesday), "income_per_10k": "1"},
                              as_key=f"partner:{stranger}")
        self.assertEqual(status, 403)
        self.assertIsNone(self.ok("GET", f"/v1/funds/{fund}")["yield_7d"])
        # Six more days, each declared the day after: the 7-day annualised yield appears.
        incomes = [6500, 6412, 6398, 6401, 6377, 6350, 6333]
        day = tuesday
        for income in incomes[1:]:
            self.advance(DAY)
            day += 1
            self.run_income(company, fund, day, f"0.{income:04d}")
        product = 1.0
        for income in incomes:
            product *= 1 + income / 10_000 / 10_000
        fact = self.ok("GET", f"/v1/funds/{fund}")
        self.assertAlmostEqual(float(fact["yield_7d"]), product ** (365 / 7) - 1, delta=2e-6)
        self.assertEqual(fact["recent_income_per_10k"], [f"0.{income:04d}" for income in incomes])


if __name__ == "__main__":
    api_test.BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main()
