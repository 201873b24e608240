-- Ledger schema and transfer functions for the PostgreSQL peer benchmark.
-- psql variables: naccounts, balance (initial credit of every account, minor units).
-- Loaded afresh before every configuration so each one starts from the same state.

\set ON_ERROR_STOP on
SET client_min_messages = warning;

DROP TABLE IF EXISTS transfers;
DROP TABLE IF EXISTS accounts;

-- fillfactor 80 leaves room on each heap page for HOT updates of the balance (no index touched):
-- the usual tuning for an update-heavy table, so PostgreSQL is measured at its best.
CREATE TABLE accounts (
    id      bigint NOT NULL,
    balance bigint NOT NULL CHECK (balance >= 0)   -- last line of defence against overdrafts
) WITH (fillfactor = 80);

INSERT INTO accounts (id, balance) SELECT g, :balance FROM generate_series(1, :naccounts) AS g;
ALTER TABLE accounts ADD PRIMARY KEY (id);

-- The primary key enforces unique transfer ids (the engine's idempotency check). No secondary
-- indexes (e.g. per-account history): the cheapest layout the peers could be given.
CREATE TABLE transfers (
    id                bigserial PRIMARY KEY,
    debit_account_id  bigint      NOT NULL,
    credit_account_id bigint      NOT NULL,
    amount            bigint      NOT NULL CHECK (amount > 0),
    ts                timestamptz NOT NULL DEFAULT now()
);

-- One transfer; returns false when rejected (same account on both sides, or overdraft).
-- The debit is a conditional UPDATE, so a rejection writes nothing and raises no error (a batch
-- keeps going). Under READ COMMITTED a concurrent update of the same row makes PostgreSQL
-- re-check "balance >= amt" on the newest row version, so no overdraft can slip through.
CREATE OR REPLACE FUNCTION transfer(d bigint, c bigint, amt bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF d = c THEN
        RETURN false;
    END IF;
    UPDATE accounts SET balance = balance - amt WHERE id = d AND balance >= amt;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE accounts SET balance = balance + amt WHERE id = c;
    IF NOT FOUND THEN
        -- Unreachable with ids in 1..naccounts; aborts the transaction so money is never lost.
        RAISE EXCEPTION 'credit account % does not exist', c;
    END IF;
    INSERT INTO transfers (debit_account_id, credit_account_id, amount) VALUES (d, c, amt);
    RETURN true;
END
$$;

-- n random transfers in the caller's transaction, generated server-side so no client round
-- trip is paid per transfer (the fastest way to feed PostgreSQL a batch). The body of
-- transfer() is inlined to save a function call per transfer. seed in [0, 1] makes the
-- sequence reproducible; returns the number rejected.
CREATE OR REPLACE FUNCTION transfer_batch(n int, naccounts bigint, max_amount bigint,
                                          seed double precision) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    d        bigint;
    c        bigint;
    amt      bigint;
    rejected int := 0;
BEGIN
    PERFORM setseed(seed);
    FOR i IN 1 .. n LOOP
        d   := 1 + floor(random() * naccounts)::bigint;
        c   := 1 + floor(random() * naccounts)::bigint;
        amt := 1 + floor(random() * max_amount)::bigint;
        IF d = c THEN
            rejected := rejected + 1;
            CONTINUE;
        END IF;
        UPDATE accounts SET balance = balance - amt WHERE id = d AND balance >= amt;
        IF NOT FOUND THEN
            rejected := rejected + 1;
            CONTINUE;
        END IF;
        UPDATE accounts SET balance = balance + amt WHERE id = c;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'credit account % does not exist', c;
        END IF;
        INSERT INTO transfers (debit_account_id, credit_account_id, amount) VALUES (d, c, amt);
    END LOOP;
    RETURN rejected;
END
$$;

VACUUM ANALYZE accounts;
VACUUM ANALYZE transfers;
-- Start every measurement from a clean checkpoint so the load's dirty pages are not flushed
-- during the timed run.
CHECKPOINT;
