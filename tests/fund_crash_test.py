#!/usr/bin/env python3
"""Crash test of a fund income run: kill -9 the server in the middle of a day's income run,
restart it, and check that the run finished by itself and paid every holder exactly once.

    fund_crash_test.py BUILD/capillary [--holders N] [--kills K] [--seed S]

Holders subscribe seeded random amounts (some of one fen, some zero after redeeming); the income
run pays a few holders per journaled step (--income-step-holders), and the server is killed each
time the run has paid some holders and not all. After the last restart: each holder's cumulative
income equals one day's income on its shares (paid twice would show double, never paid zero),
credited + residue == declared, and `capillary verify` passes on the data directory.
"""

import argparse
import datetime
import os
import random
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import api_test  # noqa: E402
from payments_crash_test import Client  # noqa: E402
from signing import signed_headers  # noqa: E402

DAY = 86_400
COMPANY = 3
FUND = 77
INCOME_E4 = 6543  # 0.6543 CNY per 10,000 shares


def get(client, path):
    headers = signed_headers("platform:0", client.secret, "GET", path, b"")
    status, _, answer = client.server.request("GET", path, headers=headers)
    assert status == 200, (path, answer)
    return answer


def advance_to_china_weekday(client, weekday, hour):
    """Business time to the next `weekday` (0: Monday) at `hour`, China time; returns the day."""
    now = int(get(client, "/v1/platform/clock")["now_ns"]) // 1_000_000_000
    day = (now + 8 * 3600) // DAY + 1
    while (day + 3) % 7 != weekday:
        day += 1
    status, _, answer = client.post("/v1/platform/clock", {"advance_s": day * DAY - 8 * 3600 + hour * 3600 - now})
    assert status == 200, answer
    return day


def setup(client, holders, rng):
    """Opens the fund and its holders; returns {user: confirmed shares} once they are confirmed."""
    for path, body in [("/v1/institutions", {"id": COMPANY, "kind": "fund_company"}),
                       ("/v1/funds", {"id": FUND, "institution": COMPANY}),
                       (f"/v1/funds/{FUND}/float", {"institution": COMPANY, "amount": 10**12})]:
        status, _, answer = client.post(path, body)
        assert status == 200, answer
    shares = {user: rng.choice([1, 99, rng.randint(1, 10**9)]) for user in range(1, holders + 1)}
    monday = advance_to_china_weekday(client, 0, 10)
    steps = []
    for user, amount in shares.items():
        steps.append({"op": "open_user", "key": f"u{user}", "id": user})
        steps.append({"op": "top_up", "key": f"t{user}", "user": user, "amount": amount,
                      "bank": {"channel": 1, "reference": f"setup-{user}", "outcome": "approved"}})
        steps.append({"op": "fund_subscribe", "key": f"s{user}", "user": user, "fund": FUND, "amount": amount})
    for start in range(0, len(steps), 999):
        results = client.batch(steps[start:start + 999])
        assert all(r["result"] == "ok" for r in results), results
    advance_to_china_weekday(client, 1, 10)  # Tuesday: confirmed
    # A few holders redeem everything: they stay in the register with nothing to earn on.
    for user in rng.sample(sorted(shares), max(1, holders // 100)):
        status, _, answer = client.post(f"/v1/funds/{FUND}/redemptions", {"user": user, "amount": shares[user]})
        assert status == 200, answer
        shares[user] = 0
    advance_to_china_weekday(client, 2, 10)  # Wednesday: Tuesday's income can be declared
    return shares, monday + 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--holders", type=int, default=3000)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    api_test.BINARY = os.path.abspath(args.binary)
    print(f"fund crash test: seed {args.seed}, {args.holders} holders, {args.kills} kills", flush=True)
    rng = random.Random(args.seed)
    directory = tempfile.mkdtemp(prefix="capillary-fund-crash-")
    server = api_test.Server(os.path.join(directory, "data"), ["--adjustable-clock", "--income-step-holders", "3"])
    try:
        server.start()
        client = Client(server)
        shares, day = setup(client, args.holders, rng)
        date = (datetime.date(1970, 1, 1) + datetime.timedelta(days=day)).isoformat()
        status, _, answer = client.post(f"/v1/funds/{FUND}/income",
                                        {"institution": COMPANY, "day": date, "income_per_10k": f"0.{INCOME_E4}"})
        assert status == 200, answer
        declared = int(answer["value"])
        run_path = f"/v1/funds/{FUND}/income/{date}"
        for kill in range(args.kills):
            while True:
                run = get(client, run_path)
                assert not run["done"], f"the run finished before kill {kill + 1}; use more holders"
                if run["done_holders"] > 0:
                    break
                time.sleep(0.001)
            server.process.send_signal(signal.SIGKILL)
            server.process.wait()
            print(f"kill {kill + 1}: the run had looked at {run['done_holders']} of {run['holders']} holders",
                  flush=True)
            server.start()
        deadline = time.time() + 120
        while not (run := get(client, run_path))["done"]:
            assert time.time() < deadline, f"the run did not finish after the restart: {run}"
            time.sleep(0.05)
        expected = {user: amount * INCOME_E4 // 100_000_000 for user, amount in shares.items()}
        assert int(run["declared"]) == declared == sum(shares.values()) * INCOME_E4 // 100_000_000, (run, declared)
        assert int(run["credited"]) == sum(expected.values()), run
        assert int(run["credited"]) + int(run["residue"]) == declared, run
        for user, income in expected.items():
            holder = get(client, f"/v1/funds/{FUND}/holders/{user}")
            assert int(holder["cumulative_income"]) == income, (user, shares[user], holder)
            assert int(holder["shares"]) == shares[user] + income, (user, shares[user], holder)
        server.stop()
        api_test.verify(server.data_dir)
        print(f"ok: {len(shares)} holders each paid once across {args.kills} kills "
              f"(credited {run['credited']} + residue {run['residue']} == declared {declared}); verify passed")
    finally:
        if server.process is not None:
            server.process.kill()
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
