"""A small ETL as a Dagy code flow: a day's orders from a CSV file, converted to EUR, summed per
product and loaded into a SQLite table.

Run it here:      python examples/etl_flow.py 2026-11-28
Run it on Dagy:   see examples/README.md (zip this folder, register it, trigger a run).
"""

from __future__ import annotations

import csv
import logging
import sqlite3
import sys
from collections import defaultdict
from contextlib import closing
from pathlib import Path

from dagy import flow, get_run_logger, task

DATA = Path(__file__).parent / "data"
# Fixed rates keep the example self-contained; a real flow would call a rates API here, which is
# why the lookup is a cached task: one call per currency and run, however many orders use it.
RATES_TO_EUR = {"EUR": 1.0, "USD": 0.94, "GBP": 1.17}


@task
def extract(day: str) -> list[dict[str, str]]:
    """The day's order lines."""
    with (DATA / "orders.csv").open(newline="") as source:
        rows = [row for row in csv.DictReader(source) if row["day"] == day]
    get_run_logger().info("%d order lines on %s", len(rows), day)
    return rows


@task(cache_key_fn=lambda currency: currency)
def rate_to_eur(currency: str) -> float:
    get_run_logger().info("looking up the %s rate", currency)
    return RATES_TO_EUR[currency]


@task
def to_eur(row: dict[str, str]) -> dict[str, object] | None:
    """One order line in EUR, or None (and a warning) when it cannot be right."""
    quantity = int(row["quantity"])
    if quantity <= 0:
        get_run_logger().warning("order %s has quantity %d; dropped", row["order_id"], quantity)
        return None
    amount = quantity * float(row["unit_price"]) * rate_to_eur(row["currency"])
    return {"sku": row["sku"], "quantity": quantity, "amount_eur": round(amount, 2)}


@task
def summarise(lines: list[dict[str, object] | None]) -> dict[str, dict[str, float]]:
    totals: dict[str, dict[str, float]] = defaultdict(lambda: {"quantity": 0, "amount_eur": 0.0})
    for line in filter(None, lines):
        total = totals[str(line["sku"])]
        total["quantity"] += int(line["quantity"])  # type: ignore[call-overload]
        total["amount_eur"] = round(total["amount_eur"] + float(line["amount_eur"]), 2)  # type: ignore[arg-type]
    return dict(totals)


@task(retries=3, retry_delay_seconds=[0.5, 1, 2], timeout_seconds=30)
def load(day: str, totals: dict[str, dict[str, float]], db_path: str) -> int:
    """Replace the day's rows; a locked database (another writer) is retried with growing waits."""
    with closing(sqlite3.connect(db_path, timeout=1)) as db, db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS daily_sales (day TEXT, sku TEXT, quantity INT, amount_eur REAL)"
        )
        db.execute("DELETE FROM daily_sales WHERE day = ?", (day,))
        db.executemany(
            "INSERT INTO daily_sales VALUES (?, ?, ?, ?)",
            [(day, sku, t["quantity"], t["amount_eur"]) for sku, t in sorted(totals.items())],
        )
    get_run_logger().info("loaded %d products into %s", len(totals), db_path)
    return len(totals)


@flow(name="daily-sales", version="1")
def daily_sales(day: str, db_path: str = "warehouse.db") -> dict[str, object]:
    rows = extract(day)
    lines = to_eur.map(rows)  # one task run per order line, on the flow run's thread pool
    totals = summarise.submit(lines)  # waits for every line: futures as arguments are resolved first
    loaded = load(day, totals.result(), db_path)
    revenue = sum(total["amount_eur"] for total in totals.result().values())
    return {"day": day, "products": loaded, "revenue_eur": round(revenue, 2)}


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    print(daily_sales(sys.argv[1] if len(sys.argv) > 1 else "2026-11-28"))
    for task_run in daily_sales.last_run.task_runs:  # type: ignore[union-attr]
        milliseconds = (task_run.duration_seconds or 0) * 1000
        print(f"{task_run.name:<14} {task_run.status:<10} tries={task_run.tries} {milliseconds:.2f} ms")
