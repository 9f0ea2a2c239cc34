import { test, expect } from "@playwright/test";
import { sql } from "./db";
import { logIn } from "./accounts";

test("a DBA creates the missing partition from the plan preview and watches the progress", async ({ page }) => {
  // Make work: drop the newest (empty, future) rate_limits partition.
  const [[victim]] = sql(`
    SELECT max(c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'rate_limits'::regclass`);
  sql(`DROP TABLE ${victim}`);
  expect(sql(`SELECT to_regclass('${victim}') IS NULL`)[0][0]).toBe("t");

  await logIn(page, "dba1", undefined, "/plan");
  const creates = page.getByTestId("plan-creates");
  await expect(creates.locator(`[data-partition="${victim}"]`)).toBeVisible();
  await expect(page.getByTestId("cleanup-note")).toContainText("approval workflow");
  await expect(page.getByTestId("cleanup-note")).toContainText("scheduled cleanup");
  await page.screenshot({ path: "screenshots/plan-before.png", fullPage: true });

  await page.getByTestId("run-create").click();
  await expect(page.getByTestId("job")).toBeVisible();
  await expect(page.getByTestId("job")).toHaveAttribute("data-finished", "true", { timeout: 30_000 });
  await expect(page.getByTestId("job-status")).toContainText("Finished:");
  await expect(page.getByTestId("job-step").filter({ hasText: victim })).toContainText("done");
  await page.screenshot({ path: "screenshots/plan-after.png", fullPage: true });

  expect(sql(`SELECT to_regclass('${victim}') IS NOT NULL`)[0][0]).toBe("t");
  const [[actor]] = sql(`SELECT actor FROM partition_action_log WHERE partition_name = '${victim}' AND action = 'create' ORDER BY id DESC LIMIT 1`);
  expect(actor).toBe("console:dba1");
});

test("a viewer sees the plan but cannot run it, and the server refuses the call", async ({ page }) => {
  await logIn(page, "viewer", undefined, "/plan");
  await expect(page.getByTestId("plan-creates")).toBeVisible();
  await expect(page.getByTestId("run-create")).toHaveCount(0);
  await expect(page.getByTestId("create-needs-dba")).toBeVisible();
  const token = await page.locator('meta[name="csrf-token"]').getAttribute("content");
  const res = await page.request.post("/api/start_create", {
    form: { fingerprint: "x" },
    headers: { "x-csrf-token": token ?? "", origin: new URL(page.url()).origin },
  });
  expect(res.status()).toBe(403);
  expect(await res.text()).toContain("dba");
});
