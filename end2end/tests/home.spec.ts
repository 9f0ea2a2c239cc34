import { test, expect } from "@playwright/test";
import { sql } from "./db";
import { logIn } from "./accounts";

const TABLES = ["auth_audit_log", "sessions", "refresh_tokens", "rate_limits"];

// Every page but /login needs a session: sign in as the read-only demo account.
test.beforeEach(async ({ page }) => {
  await logIn(page, "viewer");
});

// What the catalog says about each managed table: range partitions (not the default) and their
// total size, computed independently of the console's own query.
function catalog(table: string): { partitions: number; bytes: number } {
  const [[count, bytes]] = sql(`
    SELECT count(*) FILTER (WHERE pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'),
           coalesce(sum(pg_total_relation_size(c.oid)), 0)
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = '${table}'::regclass`);
  return { partitions: Number(count), bytes: Number(bytes) };
}

test("home page lists the four tables with numbers that match SQL", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Partitioned tables" })).toBeVisible();
  const rows = page.getByTestId("table-row");
  await expect(rows).toHaveCount(4);
  for (const [i, table] of TABLES.entries()) {
    const row = rows.nth(i);
    await expect(row).toHaveAttribute("data-table", table);
    const want = catalog(table);
    expect(want.partitions).toBeGreaterThan(0);
    await expect(row.getByTestId("partitions")).toHaveAttribute("data-value", String(want.partitions));
    await expect(row.getByTestId("size")).toHaveAttribute("data-value", String(want.bytes));
    await expect(row.getByTestId("oldest")).toHaveText(/^\d{4}-\d{2}-\d{2}$/);
  }
  // The audit log spans 8 years of demo data, older than its 7-year retention.
  const oldest = await rows.nth(0).getByTestId("oldest").textContent();
  expect(new Date().getUTCFullYear() - Number(oldest!.slice(0, 4))).toBeGreaterThanOrEqual(8);
  await page.screenshot({ path: "screenshots/home.png", fullPage: true });
});

test("Refresh reads the catalog again: a partition made in SQL meanwhile is counted", async ({ page }) => {
  await page.goto("/");
  const row = page.locator('[data-testid="table-row"][data-table="rate_limits"]');
  const before = catalog("rate_limits").partitions;
  await expect(row.getByTestId("partitions")).toHaveAttribute("data-value", String(before));
  sql(`CREATE TABLE rate_limits_e2e_refresh PARTITION OF rate_limits
         FOR VALUES FROM ('2199-01-01 00:00:00+00') TO ('2199-01-02 00:00:00+00')`);
  try {
    await page.getByTestId("refresh").click();
    await expect(row.getByTestId("partitions")).toHaveAttribute("data-value", String(before + 1));
  } finally {
    sql("DROP TABLE rate_limits_e2e_refresh");
  }
});

test("an unknown address gets a 404 page that links home", async ({ page }) => {
  const response = await page.goto("/no-such-page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
});
