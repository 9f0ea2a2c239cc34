// Reads the live database with psql, so tests compare what the page shows with what SQL says.
import { execFileSync } from "node:child_process";

export function sql(query: string): string[][] {
  const url = process.env.E2E_DATABASE_URL;
  if (!url) throw new Error("E2E_DATABASE_URL is not set: run the tests through scripts/e2e.sh");
  const out = execFileSync("psql", [url, "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", query], {
    encoding: "utf8",
  });
  return out
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => line.split("\t"));
}
