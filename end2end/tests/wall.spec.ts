import { test, expect } from "@playwright/test";
import { logIn } from "./accounts";

test("a wall link shows the dashboard without login, refreshes, and stops working once revoked", async ({ page, browser }) => {
  await logIn(page, "admin", undefined, "/wall/links");
  const label = `TV ${Date.now() % 100000}`;
  await page.getByTestId("wall-label").fill(label);
  await page.getByTestId("wall-create").click();
  // The page loads again with the new link on top, shown this once, and in the list.
  const path = await page.getByTestId("outcome-link").getAttribute("data-path");
  expect(path).toMatch(/^\/wall\?token=[A-Za-z0-9]{43}$/);

  // A fresh browser context: no session cookie, like a TV.
  const tv = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
  const wall = await tv.newPage();
  await wall.goto(`${path}&every=5`);
  await expect(wall.getByTestId("wall-tile")).toHaveCount(4);
  const first = await wall.getByTestId("wall-updated").getAttribute("data-at");
  await expect(wall.getByTestId("wall-updated")).not.toHaveAttribute("data-at", first!, { timeout: 20_000 });
  // Fits 1920x1080 without scrolling.
  const size = await wall.evaluate(() => ({ h: document.documentElement.scrollHeight, w: document.documentElement.scrollWidth }));
  expect(size.h).toBeLessThanOrEqual(1080);
  expect(size.w).toBeLessThanOrEqual(1920);
  await wall.screenshot({ path: "screenshots/wall.png" });

  // The server stops answering (the refresh's check is cut off): the last reading stays on the
  // screen, marked stale; once it answers again the display reloads by itself.
  await wall.route("**/wall?*", (route) => (route.request().method() === "HEAD" ? route.abort() : route.continue()));
  await expect(wall.getByTestId("wall-stale")).toBeVisible({ timeout: 20_000 });
  await expect(wall.getByTestId("wall-tile")).toHaveCount(4);
  await wall.unroute("**/wall?*");
  await expect(wall.getByTestId("wall-stale")).toHaveCount(0, { timeout: 20_000 });
  await expect(wall.getByTestId("wall-tile")).toHaveCount(4);

  // Revoke: the next load is refused with 403.
  await page.locator(`[data-testid="wall-link"][data-label="${label}"]`).getByTestId("wall-revoke").click();
  await expect(page.getByTestId("outcome")).toContainText("revoked");
  await expect(page.locator(`[data-testid="wall-link"][data-label="${label}"]`).getByTestId("wall-revoke")).toHaveCount(0);
  // The open display refuses by itself at its next refresh.
  await expect(wall.getByTestId("wall-refused")).toContainText("revoked or is not valid", { timeout: 20_000 });
  const res = await wall.goto(path!);
  expect(res?.status()).toBe(403);
  await expect(wall.getByTestId("wall-refused")).toContainText("revoked or is not valid");
  await wall.screenshot({ path: "screenshots/wall-refused.png" });
  await tv.close();

  // Unknown token, no session: refused too.
  const other = await browser.newContext();
  const p2 = await other.newPage();
  const res2 = await p2.goto("/wall?token=not-a-real-token");
  expect(res2?.status()).toBe(403);
  await other.close();
});
