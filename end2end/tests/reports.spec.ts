import { test, expect, type Page } from "@playwright/test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { hydrated, logIn } from "./accounts";
import { sql } from "./db";

// Clicks a download link and returns the SHA-256 of the file the browser saved.
async function downloadSha(page: Page, testid: string): Promise<string> {
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId(testid).click()]);
  const path = await download.path();
  return createHash("sha256").update(readFileSync(path!)).digest("hex");
}

test("a compliance officer generates a report, downloads byte-identical files and signs it; a viewer then reads it", async ({
  page,
  browser,
}) => {
  // Generating renders a multi-page PDF: slow on a loaded 2-core machine. Every wait below is on
  // something the page shows, never a fixed sleep.
  test.setTimeout(180_000);
  await logIn(page, "compliance", undefined, "/reports");
  await expect(page.getByTestId("report-generate")).toBeEnabled();
  await page.getByTestId("report-generate").click();
  const notice = page.getByTestId("report-generated");
  await expect(notice).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId("report-generate")).toBeEnabled();
  const id = await notice.getAttribute("data-id");
  expect(id).toMatch(/^\d+$/);
  const [[csvSha, pdfSha, findings]] = sql(`SELECT csv_sha256, pdf_sha256, findings FROM compliance_reports WHERE id = ${id}`);
  await expect(notice).toContainText(pdfSha);

  // The list shows it, unsigned.
  const row = page.locator(`[data-testid="report-row"][data-id="${id}"]`);
  await expect(row.getByTestId("signed-by")).toContainText("not signed");

  await page.screenshot({ path: "screenshots/reports.png" });

  await page.goto(`/reports/${id}`);
  await hydrated(page);
  await expect(page.getByTestId("pdf-sha256")).toHaveText(pdfSha);
  await expect(page.getByTestId("csv-sha256")).toHaveText(csvSha);
  // The demo keeps audit months past the 7-year retention: they are findings, by word and colour.
  expect(Number(findings)).toBeGreaterThan(0);
  await expect(page.locator('[data-testid="finding"][data-kind="past_retention_kept"]').first()).toBeVisible();
  await page.screenshot({ path: "screenshots/report.png", fullPage: true });

  // Downloads are the stored bytes, twice the same.
  expect(await downloadSha(page, "download-pdf")).toBe(pdfSha);
  expect(await downloadSha(page, "download-csv")).toBe(csvSha);
  expect(await downloadSha(page, "download-pdf")).toBe(pdfSha);
  const [[downloads]] = sql(`SELECT count(*) FROM audit_trail WHERE subject = 'report:${id}' AND action = 'report_downloaded'`);
  expect(Number(downloads)).toBe(3);

  // Sign: the name and the ticked attestation are required; the files do not change.
  await page.getByTestId("sign-name").fill("Casey Compliance");
  await page.getByTestId("sign-confirm").check();
  await page.getByTestId("sign-submit").click();
  await expect(page.getByTestId("signature")).toContainText("Casey Compliance");
  await expect(page.getByTestId("sign-form")).toHaveCount(0);
  const [[signer, sigPdf]] = sql(`SELECT signer, pdf_sha256 FROM compliance_report_signatures WHERE report_id = ${id}`);
  expect([signer, sigPdf]).toEqual(["compliance", pdfSha]);
  expect(await downloadSha(page, "download-pdf")).toBe(pdfSha);

  // A viewer reads the signed report and gets the same file; it cannot sign.
  const other = await browser.newContext();
  const viewer = await other.newPage();
  await logIn(viewer, "viewer", undefined, "/reports");
  const viewerRow = viewer.locator(`[data-testid="report-row"][data-id="${id}"]`);
  await expect(viewerRow.getByTestId("signed-by")).toContainText("signed");
  await expect(viewerRow.getByTestId("signed-by")).not.toContainText("not signed");
  await expect(viewer.getByTestId("report-form")).toHaveCount(0);
  await viewer.goto(`/reports/${id}`);
  await hydrated(viewer);
  await expect(viewer.getByTestId("pdf-sha256")).toHaveText(pdfSha);
  await expect(viewer.getByTestId("signature")).toContainText("Casey Compliance");
  await expect(viewer.getByTestId("sign-form")).toHaveCount(0);
  await viewer.screenshot({ path: "screenshots/report-viewer.png", fullPage: true });
  expect(await downloadSha(viewer, "download-pdf")).toBe(pdfSha);
  await other.close();
});
