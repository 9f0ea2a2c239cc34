import { test, expect } from "@playwright/test";
import { demoPassword, hydrated, logIn } from "./accounts";
import { sql } from "./db";

test("every page leads to the login, and a wrong password is refused", async ({ page }) => {
  await page.goto("/users");
  await expect(page).toHaveURL(/\/login\?next=\/users$/);
  await hydrated(page);
  await page.getByTestId("username").fill("admin");
  await page.getByTestId("password").fill("not the password");
  await page.getByTestId("login").click();
  await expect(page.getByTestId("login-form-error")).toHaveText("Wrong username or password.");
  await expect(page).toHaveURL(/\/login/);
});

test("an admin creates a viewer, who then sees no admin link", async ({ page }) => {
  const viewer = `viewer${Date.now() % 100000}`;
  const viewerPassword = "viewer-password-for-e2e";

  await logIn(page, "admin");
  await expect(page.getByTestId("role")).toHaveText("admin");
  await expect(page.getByTestId("table-row")).toHaveCount(4);
  await page.screenshot({ path: "screenshots/login-admin-overview.png", fullPage: true });

  await page.getByTestId("nav-users").click();
  await expect(page).toHaveURL(/\/users$/);
  await expect(page.getByRole("heading", { name: "Console accounts" })).toBeVisible();
  await expect(page.locator('[data-testid="account-row"][data-username="dba1"]')).toHaveAttribute("data-role", "dba");

  // A mismatched repeat is refused with a message, and nothing is created.
  await page.getByTestId("new-username").fill(viewer);
  await page.getByTestId("new-display-name").fill("E2E Viewer");
  await page.getByTestId("new-role").selectOption("viewer");
  await page.getByTestId("new-password").fill(viewerPassword);
  await page.getByTestId("new-confirm").fill(viewerPassword + "x");
  await page.getByTestId("add").click();
  await expect(page.getByTestId("add-account-error")).toContainText("The two passwords differ");
  await expect(page.locator(`[data-testid="account-row"][data-username="${viewer}"]`)).toHaveCount(0);

  await page.getByTestId("new-confirm").fill(viewerPassword);
  await page.getByTestId("add").click();
  await expect(page.getByTestId("outcome")).toContainText(`Account ${viewer} created with the viewer role.`);
  const row = page.locator(`[data-testid="account-row"][data-username="${viewer}"]`);
  await expect(row).toHaveAttribute("data-role", "viewer");
  await page.screenshot({ path: "screenshots/users.png", fullPage: true });

  await page.getByTestId("logout").click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto("/");
  await expect(page).toHaveURL(/\/login\?next=\/$/);

  await logIn(page, viewer, viewerPassword);
  await expect(page.getByTestId("who")).toHaveText("E2E Viewer");
  await expect(page.getByTestId("role")).toHaveText("viewer");
  await expect(page.getByTestId("table-row")).toHaveCount(4);
  await expect(page.getByTestId("nav-users")).toHaveCount(0);
  await page.goto("/users");
  await expect(page.getByTestId("forbidden")).toContainText("You need the admin role to manage console accounts.");
  await expect(page.getByTestId("accounts")).toHaveCount(0);
  await page.screenshot({ path: "screenshots/viewer-users-refused.png", fullPage: true });
});

test("a server function called without the page's CSRF token is refused", async ({ page }) => {
  await logIn(page, "dba1", demoPassword());
  // Same origin, same cookie, but no x-csrf-token header: what a forged form post looks like.
  const status = await page.evaluate(async () => {
    const res = await fetch("/api/logout", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" } });
    return res.status;
  });
  expect(status).toBe(403);
  await page.reload();
  await expect(page.getByTestId("who")).toBeVisible();
});

test("when the session ends, the next call leads to the login and back", async ({ page }) => {
  await logIn(page, "admin", demoPassword(), "/users");
  await expect(page.getByRole("heading", { name: "Console accounts" })).toBeVisible();
  // The session disappears server-side (idle expiry, or an admin reset the password).
  sql("DELETE FROM console_sessions");
  await page.getByTestId("new-username").fill("never-created");
  await page.getByTestId("new-password").fill("some-password-123");
  await page.getByTestId("new-confirm").fill("some-password-123");
  await page.getByTestId("add").click();
  await expect(page).toHaveURL(/\/login\?next=\/users$/);
  expect(sql("SELECT count(*) FROM console_users WHERE username = 'never-created'")).toEqual([["0"]]);
  await hydrated(page);
  await page.getByTestId("username").fill("admin");
  await page.getByTestId("password").fill(demoPassword());
  await page.getByTestId("login").click();
  await expect(page).toHaveURL(/\/users$/);
  await expect(page.getByRole("heading", { name: "Console accounts" })).toBeVisible();
});
