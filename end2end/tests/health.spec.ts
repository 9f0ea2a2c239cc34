import { test, expect } from "@playwright/test";
import { sql } from "./db";
import { logIn } from "./accounts";

test("health findings name the same checks as the CLI, with remedies", async ({ page }) => {
  await logIn(page, "compliance", undefined, "/health");
  const rows = page.getByTestId("finding");
  await expect(rows.first()).toBeVisible();
  // pruning is on in the demo cluster: the settings check is ok.
  expect(sql("SHOW enable_partition_pruning")[0][0]).toBe("on");
  await expect(page.locator('[data-testid="finding"][data-check="settings"]').first()).toHaveAttribute("data-severity", "ok");
  // Every warning or critical says what to do.
  const bad = page.locator('[data-testid="finding"]:not([data-severity="ok"])');
  for (const text of await bad.locator("td:nth-child(5)").allTextContents()) {
    expect(text.trim()).not.toBe("—");
  }
});
