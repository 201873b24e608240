-- Money conservation and journal audit. psql variables: naccounts, balance.
-- Prints one line: "<sum of balances> <negative balances> <accounts whose balance does not equal
-- the initial credit plus their journalled credits minus debits> <applied transfers>".
\set ON_ERROR_STOP on
\pset tuples_only on
\pset format unaligned
\pset fieldsep ' '
WITH moves AS (
    SELECT debit_account_id AS id, -amount AS delta FROM transfers
    UNION ALL
    SELECT credit_account_id, amount FROM transfers
), per_account AS (
    SELECT id, sum(delta) AS delta FROM moves GROUP BY id
)
SELECT (SELECT sum(balance) FROM accounts),
       (SELECT count(*) FROM accounts WHERE balance < 0),
       (SELECT count(*) FROM accounts a LEFT JOIN per_account p USING (id)
         WHERE a.balance <> :balance + coalesce(p.delta, 0)),
       (SELECT count(*) FROM transfers);
