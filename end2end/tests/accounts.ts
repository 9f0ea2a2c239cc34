// The demo console accounts and how a test signs in with them.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, type Page } from "@playwright/test";

// The demo accounts share one password: RUSTCARE_DEMO_PASSWORD when the console was started with
// it, else the one `serve` wrote to <data dir>/demo-accounts.txt on first start.
export function demoPassword(): string {
  if (process.env.RUSTCARE_DEMO_PASSWORD) return process.env.RUSTCARE_DEMO_PASSWORD;
  const dataDir = process.env.RUSTCARE_DATA_DIR ?? join(__dirname, "..", "..", ".data", "e2e");
  const text = readFileSync(join(dataDir, "demo-accounts.txt"), "utf8");
  const line = text.split("\n").find((l) => l.startsWith("admin "));
  if (!line) throw new Error(`no admin line in ${dataDir}/demo-accounts.txt`);
  return line.trim().split(/\s+/)[2];
}

// Waits until the WASM has taken over the page (forms then send the CSRF token).
export async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated]")).toHaveCount(1, { timeout: 30_000 });
}

// Logs in through the login page and waits for the page it leads to.
export async function logIn(page: Page, username: string, password = demoPassword(), next = "/") {
  await page.goto(`/login?next=${encodeURIComponent(next)}`);
  await hydrated(page);
  await page.getByTestId("username").fill(username);
  await page.getByTestId("password").fill(password);
  await page.getByTestId("login").click();
  await page.waitForURL((url) => url.pathname === next.split("?")[0]);
  await expect(page.getByTestId("who")).toBeVisible();
  await hydrated(page);
}
