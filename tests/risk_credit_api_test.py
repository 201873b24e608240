#!/usr/bin/env python3
"""End-to-end tests of the risk control and credit score routes (docs/risk.md, docs/credit.md)
against a real `capillary serve`, signed as tenants sign.

    risk_credit_api_test.py BUILD/capillary [unittest arguments]

Run from the source directory, so the server loads the shipped models/credit-v1.model. Covers: the
decision log after a denied takeover transfer, who may read it, a rules file with an error (422 with
line:column, the active rules untouched), a loaded and activated rule set changing a decision, a
shadow rule set changing nothing but the log, and the credit score: its range and five dimensions,
more wallet money never lowering it, unknown users and other users' scores.
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api_test  # noqa: E402  (its Server runs `capillary serve`)
from tenant_test_case import TenantTestCase  # noqa: E402
from signing import derive_secret, signed_headers  # noqa: E402

PLATFORM = "platform:0"
DENY_PAYMENTS = """# every payment denied, whatever else holds
rule no_payments
  priority 10
  when is_payment
  then deny "payments are suspended"
end
"""
# Line 3 names a feature that does not exist, at column 8.
MISSPELT = """rule misspelt
  priority 10
  when amount_typo > 1.00
  then deny "never loaded"
end
"""


class RiskCreditApiTest(TenantTestCase):
    first_party = 5000

    # --- plumbing -------------------------------------------------------------------------------

    def send(self, method, path, body=None, as_key=PLATFORM, content_type="application/json", device=None,
             city=None):
        """`body` is an object sent as JSON, or a str sent as is (a rules file)."""
        if body is None:
            raw = b""
        else:
            raw = (body if isinstance(body, str) else json.dumps(body)).encode()
        headers = signed_headers(as_key, derive_secret(self.master, as_key), method, path, raw)
        if method == "POST":
            headers["Idempotency-Key"] = self.key()
        if device is not None:
            headers.update({"X-Capillary-Device": device, "X-Capillary-City": city})
        status, _, answer = self.server.request(method, path, raw if body is not None else None,
                                                content_type=content_type, headers=headers)
        return status, answer

    def ok(self, method, path, body=None, as_key=PLATFORM, status=200, **options):
        got, answer = self.send(method, path, body, as_key, **options)
        self.assertEqual(got, status, answer)
        return answer

    def open_user(self, top_up=0):
        user = self.party()
        self.assertEqual(self.ok("POST", "/v1/users", {"id": user, "verified": True})["result"], "ok")
        if top_up:
            self.top_up(user, top_up)
        return user

    def top_up(self, user, amount):
        answer = self.ok("POST", f"/v1/users/{user}/top-ups",
                         {"amount": amount, "bank": {"channel": 3, "reference": self.key(), "outcome": "approved"}})
        self.assertEqual(answer["result"], "ok", answer)

    def transfer(self, payer, payee, amount, **device):
        """The payer's app sends it: risk control decides. Returns the result code."""
        status, answer = self.send("POST", f"/v1/users/{payer}/transfers", {"to": payee, "amount": amount},
                                   as_key=f"user:{payer}", **device)
        self.assertIn(status, (200, 422), answer)
        return answer["result"]

    def pay(self, payer, amount):
        """The payer's app pays a new order from the wallet: risk control decides. Returns the result."""
        shop = self.party()
        self.assertEqual(self.ok("POST", "/v1/merchants", {"id": shop})["result"], "ok")
        order = int(self.ok("POST", "/v1/orders", {"amount": amount}, as_key=f"merchant:{shop}")["value"])
        status, answer = self.send("POST", f"/v1/orders/{order}/pay", {"funding": {"wallet": amount}},
                                   as_key=f"user:{payer}")
        self.assertIn(status, (200, 422), answer)
        return answer["result"]

    def decisions(self, user, as_key=PLATFORM, limit=None):
        path = f"/v1/risk/users/{user}/decisions" + ("" if limit is None else f"?limit={limit}")
        return self.ok("GET", path, as_key=as_key)["decisions"]

    def rules(self):
        return self.ok("GET", "/v1/risk/rules")

    def load(self, text):
        return self.ok("POST", "/v1/risk/rules", text, content_type="text/plain", status=201)["version"]

    def activate(self, version):
        self.assertEqual(self.ok("POST", f"/v1/risk/rules/{version}/activate", {})["active_version"], version)

    def keep_rules_as_they_are(self):
        """Puts the active and shadow versions back after the test, whatever it did."""
        before = self.rules()
        self.addCleanup(self.activate, before["active_version"])
        self.addCleanup(self.ok, "POST", "/v1/risk/rules/shadow", {"version": before["shadow_version"]})

    def credit(self, user, as_key=PLATFORM):
        return self.ok("GET", f"/v1/credit/users/{user}", as_key=as_key)

    # --- decision log ---------------------------------------------------------------------------

    def test_a_denied_takeover_is_in_the_users_decision_log_with_its_rule(self):
        victim, stranger = self.open_user(50_000), self.open_user()
        self.assertEqual(self.transfer(victim, stranger, 40_000, device="unknown-phone", city="9"),
                         "risk_denied")
        mine = self.decisions(victim, as_key=f"user:{victim}")
        self.assertEqual(mine, self.decisions(victim))  # the platform reads the same log
        newest = mine[0]
        self.assertEqual(newest["action"], "deny", newest)
        self.assertIn("takeover_payout", [rule["name"] for rule in newest["rules"]], newest)
        taken = [rule for rule in newest["rules"] if rule["name"] == "takeover_payout"][0]
        self.assertEqual((taken["action"], taken["shadow"]), ("deny", False))
        self.assertTrue(taken["reason"])
        self.assertEqual(newest["rule_set_version"], self.rules()["active_version"])
        for model in newest["models"]:
            self.assertGreater(model["points"], 0, newest)
        self.assertEqual(len(self.decisions(victim, limit=1)), 1)

    def test_a_user_cannot_read_another_users_decisions(self):
        victim, stranger = self.open_user(10_000), self.open_user()
        self.transfer(victim, stranger, 100)
        status, answer = self.send("GET", f"/v1/risk/users/{victim}/decisions", as_key=f"user:{stranger}")
        self.assertEqual((status, answer["error"]["code"]), (404, "not_found"))
        self.assertGreaterEqual(len(self.decisions(victim)), 1)
        status, answer = self.send("GET", f"/v1/risk/users/{victim}/decisions?limit=0")
        self.assertEqual(status, 400, answer)

    # --- rules ----------------------------------------------------------------------------------

    def test_a_bad_rules_file_is_refused_with_line_and_column_and_changes_nothing(self):
        before = self.rules()
        for path, expected in [("/v1/risk/rules/validate", 422), ("/v1/risk/rules", 422)]:
            status, answer = self.send("POST", path, MISSPELT, content_type="text/plain")
            self.assertEqual(status, expected, answer)
            self.assertFalse(answer["ok"])
            error = answer["errors"][0]
            self.assertEqual((error["line"], error["column"]), (3, 8), answer)
            self.assertIn("amount_typo", error["message"])
        self.assertEqual(self.rules(), before)
        self.assertEqual(self.ok("POST", "/v1/risk/rules/validate", DENY_PAYMENTS, content_type="text/plain"),
                         {"ok": True})
        self.assertEqual(self.rules(), before)  # validating loads nothing
        status, _ = self.send("POST", "/v1/risk/rules", DENY_PAYMENTS)  # JSON content type
        self.assertEqual(status, 415)

    def test_rules_are_the_platforms(self):
        user = self.open_user()
        for method, path, body in [("GET", "/v1/risk/rules", None),
                                   ("POST", "/v1/risk/rules/validate", DENY_PAYMENTS)]:
            status, _ = self.send(method, path, body, as_key=f"user:{user}", content_type="text/plain")
            self.assertEqual(status, 403)

    def test_loading_and_activating_rules_changes_a_decision(self):
        self.keep_rules_as_they_are()
        payer = self.open_user(10_000)
        self.assertEqual(self.pay(payer, 100), "ok")
        version = self.load(DENY_PAYMENTS)
        listed = {s["version"]: s for s in self.rules()["rule_sets"]}
        self.assertEqual((listed[version]["rules"], listed[version]["active"]), (1, False))
        self.assertEqual(self.pay(payer, 100), "ok")  # loaded, not yet active
        self.activate(version)
        self.assertEqual(self.rules()["active_version"], version)
        self.assertEqual(self.pay(payer, 100), "risk_denied")
        newest = self.decisions(payer)[0]
        self.assertEqual((newest["action"], newest["rule_set_version"]), ("deny", version))
        self.assertEqual([r["name"] for r in newest["rules"]], ["no_payments"])
        status, answer = self.send("POST", f"/v1/risk/rules/{version + 1000}/activate", {})
        self.assertEqual((status, answer["error"]["code"]), (404, "not_found"))

    def test_a_shadow_rule_set_is_logged_and_never_enforced(self):
        self.keep_rules_as_they_are()
        payer = self.open_user(10_000)
        active = self.rules()["active_version"]
        version = self.load(DENY_PAYMENTS)
        self.assertEqual(self.ok("POST", "/v1/risk/rules/shadow", {"version": version})["shadow_version"], version)
        self.assertEqual(self.pay(payer, 100), "ok")
        self.assertEqual(self.pay(payer, 100), "ok")
        newest = self.decisions(payer)[0]
        self.assertEqual((newest["action"], newest["rule_set_version"]), ("allow", active), newest)
        self.assertEqual(newest["shadow"], {"rule_set_version": version, "action": "deny", "differs": True})
        self.assertEqual(self.ok("POST", "/v1/risk/rules/shadow", {"version": 0})["shadow_version"], 0)
        self.assertEqual(self.rules()["active_version"], active)

    # --- credit score ---------------------------------------------------------------------------

    def test_a_users_score_is_in_range_with_five_dimensions(self):
        user = self.open_user(1000)
        score = self.credit(user, as_key=f"user:{user}")
        self.assertEqual(score, self.credit(user))
        self.assertEqual(score["user"], user)
        self.assertTrue(350 <= score["score"] <= 950, score)
        self.assertEqual(sorted(score["dimensions"]),
                         ["behaviour", "capacity", "history", "identity", "relationships"])
        # The parts add up to the score unless it was clamped into range.
        total = score["base_points"] + sum(score["dimensions"].values())
        self.assertEqual(score["score"], max(350, min(950, total)), score)
        self.assertEqual(score["deposit_waiver"], score["score"] >= 650)
        self.assertEqual(score["privileged"], score["score"] >= 700)
        self.assertLessEqual(len(score["reasons"]), 4)
        # Reasons speak only of what the platform knows (docs/credit.md), costliest first.
        known = {"verified", "account_age_days", "details_stable_days", "wallet_balance_fen",
                 "active_payment_months", "monthly_inflow_fen"}
        self.assertTrue(score["reasons"], score)
        for reason in score["reasons"]:
            self.assertIn(reason["feature"], known, reason)
            self.assertGreater(reason["points_lost"], 0, reason)
        lost = [reason["points_lost"] for reason in score["reasons"]]
        self.assertEqual(lost, sorted(lost, reverse=True))
        self.assertIn(score["credit_tier"], range(7))

    def test_more_wallet_money_never_lowers_the_score(self):
        user = self.open_user()
        before = self.credit(user)
        for amount in [1000, 50_000, 5_000_000, 500_000_000]:
            self.top_up(user, amount)
            after = self.credit(user)
            self.assertGreaterEqual(after["score"], before["score"], (amount, before, after))
            self.assertGreaterEqual(after["dimensions"]["capacity"], before["dimensions"]["capacity"])
            before = after
        # Half a billion fen and more arrived: capacity is no longer among the reasons.
        self.assertNotIn("wallet_balance_fen", [r["feature"] for r in before["reasons"]], before)

    def test_a_payment_counts_as_an_active_month(self):
        user = self.open_user(10_000)
        idle = {r["feature"]: r["value"] for r in self.credit(user)["reasons"]}
        self.assertEqual(idle.get("active_payment_months"), 0, idle)  # a fresh account's top reason
        before = self.credit(user)
        self.assertEqual(self.pay(user, 500), "ok")
        after = self.credit(user)
        paid = {r["feature"]: r["value"] for r in after["reasons"]}
        # Either still a reason, with this month counted, or no longer one.
        self.assertIn(paid.get("active_payment_months"), (None, 1), paid)
        self.assertGreaterEqual(after["dimensions"]["behaviour"], before["dimensions"]["behaviour"])

    def test_unknown_users_and_other_users_scores_are_not_found(self):
        user, other = self.open_user(), self.open_user()
        status, answer = self.send("GET", "/v1/credit/users/987654321")
        self.assertEqual((status, answer["error"]["code"]), (404, "not_found"))
        status, _ = self.send("GET", f"/v1/credit/users/{other}", as_key=f"user:{user}")
        self.assertEqual(status, 404)
        status, _ = self.send("GET", "/v1/credit/users/x")
        self.assertEqual(status, 404)


if __name__ == "__main__":
    api_test.BINARY = os.path.abspath(sys.argv.pop(1))
    unittest.main()
