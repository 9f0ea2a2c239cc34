import { test, expect, type Browser, type Page } from "@playwright/test";
import { sql } from "./db";
import { logIn } from "./accounts";

// The demo audit log spans 8 years against a 7-year retention: its oldest months are held for a
// two-person approval. One DBA requests their cleanup, a second approves, the compliance officer
// co-signs, and the cleanup runs from the browser with live progress.

// The audit months past retention, to check the page against and to put back afterwards (other
// specs expect the demo's 8-year span; the partitions come back empty).
let pastRetention: string[][] = [];

test.beforeAll(() => {
  pastRetention = sql(`
    SELECT p.partition_name, to_char(p.lower_bound AT TIME ZONE 'UTC', 'YYYY-MM-DD')
    FROM rustcare_expired_partitions('auth_audit_log') p ORDER BY 1`);
});

test.afterAll(() => {
  for (const [, lower] of pastRetention) sql(`SELECT create_audit_log_partition('${lower}'::date)`);
});

async function as(browser: Browser, user: string, path: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await logIn(page, user, undefined, path);
  return page;
}

test("dba1 requests, dba2 approves, compliance co-signs, the cleanup runs", async ({ browser }) => {
  expect(pastRetention.length).toBeGreaterThan(0);

  // dba1 files the request from the plan page.
  const dba1 = await as(browser, "dba1", "/plan");
  await expect(dba1.getByTestId("plan-held")).toBeVisible();
  await dba1.getByTestId("request-cleanup").click();
  await expect(dba1.getByTestId("request-filed")).toBeVisible();
  await dba1.getByTestId("request-filed").getByRole("link").click();
  await dba1.waitForURL(/\/requests\/\d+$/);
  const id = dba1.url().split("/").pop()!;
  await expect(dba1.getByTestId("request-state")).toHaveText("pending");
  // Exactly what will be dropped: every audit month past retention, nothing else.
  const drops = dba1.getByTestId("request-drop");
  await expect(drops).toHaveCount(pastRetention.length);
  for (const [name] of pastRetention) await expect(drops.filter({ hasText: name })).toHaveCount(1);
  const [[fingerprint]] = sql(`SELECT fingerprint FROM cleanup_requests WHERE id = ${id}`);
  await expect(dba1.getByTestId("fingerprint")).toHaveText(fingerprint);
  // The requester is offered no approval, and a direct call is refused by the server.
  await expect(dba1.getByTestId("decide-blocked")).toContainText("two-person rule");
  await expect(dba1.getByTestId("approve")).toHaveCount(0);
  const token = await dba1.locator('meta[name="csrf-token"]').getAttribute("content");
  const self = await dba1.request.post("/api/request_decide", {
    form: { id, decision: "approve", comment: "my own" },
    headers: { "x-csrf-token": token ?? "", origin: new URL(dba1.url()).origin },
  });
  expect(self.status()).toBe(403);
  await dba1.screenshot({ path: "screenshots/request-pending.png", fullPage: true });

  // dba2 approves: still pending, the audit log needs compliance too.
  const dba2 = await as(browser, "dba2", `/requests/${id}`);
  await dba2.getByTestId("decision-comment").fill("Checked: only months past the 7-year retention.");
  await expect(dba2.getByTestId("approve")).toContainText(`Approve dropping ${pastRetention.length} partitions`);
  await dba2.getByTestId("approve").click();
  await expect(dba2.getByTestId("decision-result")).toContainText("pending");
  await expect(dba2.getByTestId("request-explain")).toContainText("Still needed: a compliance officer's approval (role compliance)");

  // The compliance officer co-signs.
  const carol = await as(browser, "compliance", `/requests/${id}`);
  await carol.getByTestId("decision-comment").fill("Disposal per 164.310(d)(2)(i); 7-year policy met.");
  await carol.getByTestId("approve").click();
  await expect(carol.getByTestId("decision-result")).toContainText("approved");
  await expect(carol.getByTestId("request-state")).toHaveText("approved");
  await expect(carol.getByTestId("decision")).toHaveCount(2);
  // Compliance may co-sign but not execute.
  await expect(carol.getByTestId("execute")).toHaveCount(0);

  // dba2 executes and watches it.
  await dba2.reload();
  await expect(dba2.getByTestId("request-state")).toHaveText("approved");
  await dba2.getByTestId("execute").click();
  await expect(dba2.getByTestId("job")).toHaveAttribute("data-finished", "true", { timeout: 60_000 });
  await expect(dba2.getByTestId("job-error")).toHaveCount(0);
  await expect(dba2.getByTestId("job-status")).toContainText("Finished:");
  await dba2.screenshot({ path: "screenshots/request-executed-progress.png", fullPage: true });
  // No manual reload: the finished run reloads the request (badge, heading, history).
  await expect(dba2.getByTestId("request-state")).toHaveText("executed");
  await expect(dba2.getByTestId("drops-heading")).toContainText("Dropped");
  await expect(dba2.getByTestId("outcome")).toContainText(`${pastRetention.length} partition(s) dropped`);
  const events = dba2.getByTestId("history-entry");
  await expect(events).toHaveCount(5);
  await expect(events.nth(0)).toHaveAttribute("data-event", "filed");
  await expect(events.nth(2)).toContainText("Disposal per 164.310(d)(2)(i)");
  await expect(events.nth(4)).toHaveAttribute("data-event", "executed");
  await dba2.screenshot({ path: "screenshots/request-executed.png", fullPage: true });

  // What SQL says: the partitions are gone, each drop logged with the request id.
  expect(sql(`SELECT count(*) FROM rustcare_expired_partitions('auth_audit_log')`)[0][0]).toBe("0");
  const [[logged]] = sql(`SELECT count(*) FROM partition_action_log WHERE request_id = ${id} AND action = 'drop' AND outcome = 'ok'`);
  expect(Number(logged)).toBe(pastRetention.length);

  // The audit page shows the lifecycle and the chain verifies.
  await carol.goto("/audit");
  await expect(carol.getByTestId("audit-rows")).toBeVisible();
  for (const action of ["cleanup_requested", "cleanup_approved", "cleanup_executed"]) {
    await expect(carol.locator(`[data-testid="audit-row"][data-action="${action}"]`).first()).toBeVisible();
  }
  await carol.getByTestId("audit-verify").click();
  await expect(carol.getByTestId("chain-ok")).toBeVisible();
  await carol.screenshot({ path: "screenshots/audit.png", fullPage: true });
  // Filtering is a GET: the URL holds it, only matching rows come back, and the export link
  // carries the same filter.
  await carol.getByTestId("audit-action").fill("cleanup_approved");
  await carol.getByTestId("audit-apply").click();
  await carol.waitForURL(/\/audit\?.*action=cleanup_approved/);
  await expect(carol.getByTestId("audit-row")).toHaveCount(2);
  await expect(carol.locator('[data-testid="audit-row"]:not([data-action="cleanup_approved"])')).toHaveCount(0);
  await expect(carol.getByTestId("audit-action")).toHaveValue("cleanup_approved");
  await expect(carol.getByTestId("audit-export")).toHaveAttribute("href", /action=cleanup_approved/);
  const csv = await carol.request.get("/audit/export.csv?action=cleanup_approved");
  expect(csv.status()).toBe(200);
  const lines = (await csv.text()).trim().split("\n");
  expect(lines[0]).toBe("id,at_utc,actor,action,subject,detail,prev_hash,hash");
  expect(lines.length).toBe(3);
});
