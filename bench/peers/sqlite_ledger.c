/* SQLite driver for the peer ledger benchmark (bench/peers.sh).
 *
 * Same workload as the PostgreSQL runs: ACCOUNTS accounts funded with BALANCE minor units each;
 * random transfers (uniform accounts, amount uniform in 1..MAX_AMOUNT) debit one account and
 * credit another, insert a transfer row, and are rejected when the debit would overdraw.
 * Durable: WAL journal, synchronous=FULL (the WAL is fsynced at every commit).
 *
 * usage: sqlite_ledger DB ACCOUNTS BALANCE MAX_AMOUNT PER_TX TRANSFERS SECONDS SEED
 *   Runs transactions of PER_TX transfers until TRANSFERS were attempted or SECONDS elapsed
 *   (0 = no limit), then prints "attempted=A rejected=R seconds=S" on stdout and exits 0,
 *   or exits 1 when the store fails the conservation / journal audit afterwards.
 *
 * A C driver with prepared statements: the sqlite3 shell would spend more time parsing SQL
 * than SQLite spends applying transfers.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

static sqlite3 *db;

static void die(const char *what) {
  fprintf(stderr, "sqlite_ledger: %s: %s\n", what, db ? sqlite3_errmsg(db) : "(no database)");
  exit(2);
}

static void exec(const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "sqlite_ledger: %s: %s\n", sql, err ? err : "?");
    exit(2);
  }
}

static sqlite3_stmt *prepare(const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) die(sql);
  return st;
}

/* Runs a statement that returns no rows and resets it for reuse. */
static void step_done(sqlite3_stmt *st) {
  if (sqlite3_step(st) != SQLITE_DONE) die(sqlite3_sql(st));
  sqlite3_reset(st);
}

static int64_t query_int(const char *sql) {
  sqlite3_stmt *st = prepare(sql);
  if (sqlite3_step(st) != SQLITE_ROW) die(sql);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* splitmix64: small, seedable, statistically good enough for picking accounts. */
static uint64_t rng_state;
static uint64_t rng_next(void) {
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
/* Uniform in 1..n (multiply-shift; bias below 2^-32 for n < 2^32). */
static int64_t rng_range(uint64_t n) {
  return (int64_t)(((unsigned __int128)rng_next() * n) >> 64) + 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t arg_int(const char *s, const char *name) {
  char *end;
  long long v = strtoll(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < 0) {
    fprintf(stderr, "sqlite_ledger: bad %s: %s\n", name, s);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr,
            "usage: sqlite_ledger DB ACCOUNTS BALANCE MAX_AMOUNT PER_TX TRANSFERS SECONDS SEED\n");
    return 2;
  }
  const char *path = argv[1];
  const int64_t accounts = arg_int(argv[2], "ACCOUNTS");
  const int64_t balance = arg_int(argv[3], "BALANCE");
  const int64_t max_amount = arg_int(argv[4], "MAX_AMOUNT");
  const int64_t per_tx = arg_int(argv[5], "PER_TX");
  const int64_t transfers = arg_int(argv[6], "TRANSFERS");
  const int64_t seconds = arg_int(argv[7], "SECONDS");
  rng_state = (uint64_t)arg_int(argv[8], "SEED");
  if (accounts < 2 || max_amount < 1 || per_tx < 1 || (transfers == 0 && seconds == 0)) {
    fprintf(stderr, "sqlite_ledger: need ACCOUNTS >= 2, MAX_AMOUNT >= 1, PER_TX >= 1 and a limit\n");
    return 2;
  }

  if (sqlite3_open(path, &db) != SQLITE_OK) die(path);
  /* Durable and tuned: WAL with an fsync per commit; a 1 GiB page cache like PostgreSQL's
   * shared_buffers; memory-mapped reads. Checkpoints run inside the timed loop, as they would in
   * service, at the interval best for each mode: with 1,000 transfers per commit (~2,000 pages
   * each) every 10,000 WAL pages instead of the default 1,000 roughly doubles throughput; with
   * one transfer per commit the default is faster, because a small WAL is reused from its start
   * sooner, and an fsync that does not extend the file is cheaper. */
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=FULL");
  exec("PRAGMA cache_size=-1048576");
  exec("PRAGMA mmap_size=1073741824");
  exec(per_tx > 1 ? "PRAGMA wal_autocheckpoint=10000" : "PRAGMA wal_autocheckpoint=1000");
  if (query_int("PRAGMA synchronous") != 2) die("synchronous=FULL not in effect");

  exec("DROP TABLE IF EXISTS transfers; DROP TABLE IF EXISTS accounts;"
       "CREATE TABLE accounts (id INTEGER PRIMARY KEY,"
       "  balance INTEGER NOT NULL CHECK (balance >= 0));"
       /* INTEGER PRIMARY KEY is the rowid: unique transfer ids at no extra index cost. */
       "CREATE TABLE transfers (id INTEGER PRIMARY KEY,"
       "  debit_account_id INTEGER NOT NULL, credit_account_id INTEGER NOT NULL,"
       "  amount INTEGER NOT NULL CHECK (amount > 0), ts INTEGER NOT NULL);");

  /* Load in one transaction, then checkpoint so the timed run starts with an empty WAL. RESTART,
   * not TRUNCATE: the WAL file keeps its size and is overwritten from the start, as in a store
   * that has been running for a while. */
  exec("BEGIN");
  sqlite3_stmt *ins_acc = prepare("INSERT INTO accounts (id, balance) VALUES (?1, ?2)");
  for (int64_t id = 1; id <= accounts; id++) {
    sqlite3_bind_int64(ins_acc, 1, id);
    sqlite3_bind_int64(ins_acc, 2, balance);
    step_done(ins_acc);
  }
  sqlite3_finalize(ins_acc);
  exec("COMMIT");
  exec("PRAGMA wal_checkpoint(RESTART)");
  /* Warm the page cache, as PostgreSQL's is warm after its load. */
  (void)query_int("SELECT sum(balance) FROM accounts");

  /* The debit is conditional: no row changed means overdraft, and nothing was written. */
  sqlite3_stmt *debit =
      prepare("UPDATE accounts SET balance = balance - ?2 WHERE id = ?1 AND balance >= ?2");
  sqlite3_stmt *credit = prepare("UPDATE accounts SET balance = balance + ?2 WHERE id = ?1");
  sqlite3_stmt *ins = prepare(
      "INSERT INTO transfers (debit_account_id, credit_account_id, amount, ts)"
      " VALUES (?1, ?2, ?3, ?4)");
  sqlite3_stmt *begin = prepare("BEGIN IMMEDIATE");
  sqlite3_stmt *commit = prepare("COMMIT");

  int64_t attempted = 0, rejected = 0;
  const double start = now_s();
  double elapsed = 0;
  while ((transfers == 0 || attempted < transfers) && (seconds == 0 || elapsed < seconds)) {
    step_done(begin);
    const int64_t ts = wall_ns(); /* one timestamp per transaction, as the engine per batch */
    for (int64_t i = 0; i < per_tx && (transfers == 0 || attempted < transfers); i++) {
      const int64_t d = rng_range(accounts), c = rng_range(accounts), amt = rng_range(max_amount);
      attempted++;
      if (d == c) {
        rejected++;
        continue;
      }
      sqlite3_bind_int64(debit, 1, d);
      sqlite3_bind_int64(debit, 2, amt);
      step_done(debit);
      if (sqlite3_changes(db) != 1) {
        rejected++;
        continue;
      }
      sqlite3_bind_int64(credit, 1, c);
      sqlite3_bind_int64(credit, 2, amt);
      step_done(credit);
      if (sqlite3_changes(db) != 1) die("credit account missing");
      sqlite3_bind_int64(ins, 1, d);
      sqlite3_bind_int64(ins, 2, c);
      sqlite3_bind_int64(ins, 3, amt);
      sqlite3_bind_int64(ins, 4, ts);
      step_done(ins);
    }
    step_done(commit);
    elapsed = now_s() - start;
  }
  sqlite3_finalize(debit);
  sqlite3_finalize(credit);
  sqlite3_finalize(ins);
  sqlite3_finalize(begin);
  sqlite3_finalize(commit);

  printf("attempted=%" PRId64 " rejected=%" PRId64 " seconds=%.3f\n", attempted, rejected, elapsed);
  fflush(stdout);

  /* Audit: money conserved, no negative balance, every balance equals its initial credit plus
   * its journalled credits minus debits, and the journal holds exactly the applied transfers. */
  const int64_t sum = query_int("SELECT sum(balance) FROM accounts");
  const int64_t negative = query_int("SELECT count(*) FROM accounts WHERE balance < 0");
  char sql[512];
  snprintf(sql, sizeof sql,
           "WITH moves AS (SELECT debit_account_id AS id, -amount AS delta FROM transfers"
           " UNION ALL SELECT credit_account_id, amount FROM transfers),"
           " per_account AS (SELECT id, sum(delta) AS delta FROM moves GROUP BY id)"
           " SELECT count(*) FROM accounts a LEFT JOIN per_account p USING (id)"
           " WHERE a.balance <> %" PRId64 " + coalesce(p.delta, 0)",
           balance);
  const int64_t mismatched = query_int(sql);
  const int64_t applied = query_int("SELECT count(*) FROM transfers");
  sqlite3_close(db);

  int ok = 1;
  if (sum != accounts * balance) {
    fprintf(stderr, "sqlite_ledger: MONEY NOT CONSERVED: sum %" PRId64 " != %" PRId64 "\n", sum,
            accounts * balance);
    ok = 0;
  }
  if (negative != 0 || mismatched != 0) {
    fprintf(stderr, "sqlite_ledger: AUDIT FAILED: %" PRId64 " negative, %" PRId64
            " balances disagree with the journal\n", negative, mismatched);
    ok = 0;
  }
  if (applied != attempted - rejected) {
    fprintf(stderr, "sqlite_ledger: AUDIT FAILED: %" PRId64 " transfer rows, %" PRId64
            " applied\n", applied, attempted - rejected);
    ok = 0;
  }
  return ok ? 0 : 1;
}
