import { test, expect } from "@playwright/test";
import { sql } from "./db";
import { logIn } from "./accounts";

// The console under test runs no scheduler (scripts/e2e.sh sets RUSTCARE_SCHEDULER=off), so the
// spec files three runs of its own, in slots long past, and removes them afterwards.
const MARK = "e2e schedule spec";

// Formats a UTC timestamp as the page does ("%Y-%m-%d %H:%M UTC").
const FMT = `'YYYY-MM-DD HH24:MI "UTC"'`;

test.beforeAll(() => {
  sql(`
    WITH d AS (SELECT date_trunc('day', now() AT TIME ZONE 'UTC') AS today)
    INSERT INTO scheduler_runs (job, slot, started_at, finished_at, outcome, detail, actions, runner)
    SELECT job, (slot AT TIME ZONE 'UTC'), (slot AT TIME ZONE 'UTC') + interval '3 seconds',
           (slot AT TIME ZONE 'UTC') + took, outcome, '${MARK}: ' || detail, actions, 'e2e-host:4242'
    FROM d CROSS JOIN LATERAL (VALUES
        ('create', today - interval '40 days' + interval '1 hour', interval '5 seconds', 'failed', 'database unreachable', 0),
        ('create', today - interval '30 days' + interval '1 hour', interval '4 seconds', 'ok', '3 partitions created', 3),
        ('cleanup', today - interval '33 days' - (extract(dow FROM today - interval '33 days')::int) * interval '1 day'
                    + interval '2 hours', interval '9 seconds', 'partial', '2 dropped, 1 awaits approval', 2)
      ) AS r(job, slot, took, outcome, detail, actions)
    ON CONFLICT (job, slot) DO NOTHING`);
});

test.afterAll(() => {
  sql(`DELETE FROM scheduler_runs WHERE detail LIKE '${MARK}:%'`);
});

test("/schedule shows each job's last and next run and the history as scheduler_runs has them", async ({ page }) => {
  await logIn(page, "viewer", undefined, "/schedule");
  await expect(page.getByRole("heading", { name: "Schedule", level: 1 })).toBeVisible();
  await expect(page.getByTestId("scheduler-off")).toContainText("RUSTCARE_SCHEDULER=off");

  // Next run per the guide's schedules in config/partitioning.conf (daily@01:00, sun@02:00):
  // the latest scheduled time at or before now, plus a day (a week).
  const [[nextCreate, nextCleanup]] = sql(`
    WITH n AS (SELECT now() AT TIME ZONE 'UTC' AS now, date_trunc('day', now() AT TIME ZONE 'UTC') AS today),
         c AS (SELECT CASE WHEN today + interval '1 hour' <= now THEN today + interval '1 hour'
                           ELSE today - interval '23 hours' END AS latest FROM n),
         w0 AS (SELECT CASE WHEN today + interval '2 hours' <= now THEN today + interval '2 hours'
                            ELSE today - interval '22 hours' END AS at FROM n),
         w AS (SELECT at - extract(dow FROM at)::int * interval '1 day' AS latest FROM w0)
    SELECT to_char(c.latest + interval '1 day', ${FMT}), to_char(w.latest + interval '7 days', ${FMT}) FROM c, w`);
  const next: Record<string, string> = { create: nextCreate, cleanup: nextCleanup };

  const jobs = page.getByTestId("schedule-job");
  await expect(jobs).toHaveCount(2);
  for (const job of ["create", "cleanup"]) {
    const row = page.locator(`[data-testid="schedule-job"][data-job="${job}"]`);
    // The last run: the latest slot of the job in scheduler_runs.
    const [[started, outcome, detail]] = sql(`
      SELECT to_char(started_at AT TIME ZONE 'UTC', ${FMT}), outcome, detail FROM scheduler_runs
      WHERE job = '${job}' ORDER BY slot DESC, id DESC LIMIT 1`);
    const cells = row.locator("td");
    await expect(cells.nth(2)).toHaveText(started);
    await expect(cells.nth(3)).toContainText(outcome);
    await expect(cells.nth(3)).toContainText(detail);
    await expect(row.getByTestId("next-run")).toHaveText(next[job]);
  }
  // The outcome is said in a word and a colour: "failed" is not the last create, "ok" is.
  await expect(page.locator('[data-job="create"] .badge.ok')).toHaveText("ok");
  await expect(page.locator('[data-job="cleanup"] .badge.warn')).toHaveText("partial");

  // History: the latest 50 runs, newest first, each as scheduler_runs has it.
  const want = sql(`
    SELECT to_char(started_at AT TIME ZONE 'UTC', ${FMT}), job, to_char(slot AT TIME ZONE 'UTC', ${FMT}),
           outcome, actions::text, detail
    FROM scheduler_runs ORDER BY started_at DESC, id DESC LIMIT 50`);
  expect(want.length).toBeGreaterThanOrEqual(3);
  const runs = page.getByTestId("schedule-run");
  await expect(runs).toHaveCount(want.length);
  for (const [i, [started, job, slot, outcome, actions, detail]] of want.entries()) {
    const cells = runs.nth(i).locator("td");
    await expect(runs.nth(i)).toHaveAttribute("data-outcome", outcome);
    await expect(cells.nth(0)).toHaveText(started);
    await expect(cells.nth(1)).toHaveText(job);
    await expect(cells.nth(2)).toHaveText(slot);
    await expect(cells.nth(3)).toHaveText(outcome);
    await expect(cells.nth(4)).toHaveText(actions);
    await expect(cells.nth(6)).toHaveText(detail);
  }
  // Our create run took 4 s after starting 3 s into its slot: "Took" shows the difference.
  const ours = want.findIndex(([, job, , outcome]) => job === "create" && outcome === "ok");
  await expect(runs.nth(ours).locator("td").nth(5)).toHaveText("1.0 s");

  await page.screenshot({ path: "screenshots/schedule.png", fullPage: true });
});
