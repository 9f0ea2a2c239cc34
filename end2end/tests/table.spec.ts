import { test, expect } from "@playwright/test";
import { sql } from "./db";
import { logIn } from "./accounts";

test("table page: partitions paged, filtered and sorted on the server; charts with labelled axes", async ({ page }) => {
  await logIn(page, "viewer", undefined, "/tables/sessions");
  const [[count]] = sql(`SELECT count(*) FROM pg_inherits WHERE inhparent = 'sessions'::regclass`);
  await expect(page.getByTestId("showing")).toContainText(`(${count} in all)`);
  await expect(page.getByTestId("partition-row")).toHaveCount(Math.min(50, Number(count)));

  // Charts: SVG with axis labels and units.
  const bars = page.getByTestId("chart-size");
  await expect(bars.locator("svg")).toBeVisible();
  await expect(bars.locator("text.axis-label").first()).toHaveText(/^Size \((bytes|KiB|MiB|GiB)\)$/);
  await expect(bars.locator("rect.bar").first()).toBeVisible();
  const timeline = page.getByTestId("chart-timeline");
  await expect(timeline.locator("text.axis-label")).toHaveText("Partition bounds (UTC)");
  await expect(timeline.getByText(/retention cutoff/)).toBeVisible();
  await expect(page.getByTestId("chart-growth")).toBeVisible();
  // The caption counts the samples in words a person reads: "1 sample, 16 MB", never "1 samples".
  await expect(page.getByTestId("chart-growth").locator("figcaption")).toHaveText(
    /\((1 sample, [^→]+|([02-9]|\d\d+) samples, .+ → .+)\)/,
  );
  await page.screenshot({ path: "screenshots/table-sessions.png", fullPage: true });

  // Future partitions only, newest first.
  await page.goto("/tables/sessions?status=future&sort=bounds&dir=desc");
  const [[future]] = sql(`
    SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'sessions'::regclass
      -- CASE, not AND: PostgreSQL may test the date against every pg_class row before the join.
      AND CASE WHEN c.relname ~ '^sessions_[0-9]{4}_[0-9]{2}_[0-9]{2}$'
               THEN to_date(substr(c.relname, 10), 'YYYY_MM_DD') > (now() AT TIME ZONE 'UTC')::date END`);
  await expect(page.getByTestId("partition-row")).toHaveCount(Math.min(50, Number(future)));
  const first = await page.getByTestId("partition-row").first().getAttribute("data-name");
  const [[newest]] = sql(`SELECT max(c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'sessions'::regclass`);
  expect(first).toBe(newest);
  for (const s of await page.getByTestId("partition-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-status")))) {
    expect(s).toBe("future");
  }

  // Sort by size through the column header (client-side navigation, server-side sort).
  await page.goto("/tables/sessions");
  await page.getByTestId("sort-size").click();
  await expect(page).toHaveURL(/sort=size/);
  await expect(page.getByTestId("page-of")).toHaveText(/^page 1 of \d+$/);
});

test("an unknown table is a 404 naming the managed tables", async ({ page }) => {
  await logIn(page, "viewer");
  const res = await page.goto("/tables/users");
  expect(res?.status()).toBe(404);
  await expect(page.getByTestId("unknown-table")).toContainText("auth_audit_log");
  await expect(page.getByTestId("unknown-table")).toContainText("rate_limits");
});
