import { test, expect } from "@playwright/test";
import { sql } from "./db";
import { logIn } from "./accounts";

const TABLES = ["auth_audit_log", "sessions", "refresh_tokens", "rate_limits"];

// Partition counts and default-partition rows straight from the catalog.
function catalog(table: string): { partitions: number; defaultRows: string } {
  const [[count, def]] = sql(`
    SELECT count(*) FILTER (WHERE pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'),
           coalesce(max(greatest(c.reltuples, 0)::bigint) FILTER (WHERE pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT')::text, 'none')
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = '${table}'::regclass`);
  return { partitions: Number(count), defaultRows: def };
}

test("overview cards match SQL and say their health in words", async ({ page }) => {
  await logIn(page, "viewer");
  const cards = page.getByTestId("card");
  await expect(cards).toHaveCount(4);
  for (const [i, table] of TABLES.entries()) {
    const card = cards.nth(i);
    await expect(card).toHaveAttribute("data-table", table);
    const want = catalog(table);
    await expect(card.getByTestId("card-partitions")).toHaveAttribute("data-value", String(want.partitions));
    await expect(card.getByTestId("card-status")).toHaveText(/^(Healthy|Warning|Critical)$/);
    if (want.defaultRows === "none") {
      await expect(card.getByTestId("card-default")).toHaveText("no default partition");
    }
    // Days covered ahead: from now to the end of the partitions that cover now without a break.
    const ahead = Number(await card.getByTestId("card-ahead").getAttribute("data-value"));
    expect(ahead).toBeGreaterThanOrEqual(0);
  }
  // The demo audit log holds 8 years against a 7-year retention: partitions past it are counted.
  const [[past]] = sql(`
    SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'auth_audit_log'::regclass
      -- CASE, not AND: PostgreSQL may test the date against every pg_class row before the join.
      AND CASE WHEN c.relname ~ '^auth_audit_log_[0-9]{4}_[0-9]{2}$'
               THEN (to_date(substr(c.relname, 16), 'YYYY_MM') + interval '1 month') <= now() - interval '7 years' END`);
  await expect(cards.nth(0).getByTestId("card-retention")).toHaveAttribute("data-value", past);
  await page.screenshot({ path: "screenshots/overview.png", fullPage: true });
});

test("/metrics answers Prometheus text on loopback", async ({ request }) => {
  const res = await request.get("/metrics");
  expect(res.status()).toBe(200);
  expect(res.headers()["content-type"]).toContain("text/plain; version=0.0.4");
  const body = await res.text();
  expect(body).toContain("# TYPE rustcare_partition_");
  expect(body).toContain('table="sessions"');
});
