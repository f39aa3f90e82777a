// Regenerates the API client from ../openapi.json and fails when the committed copy differs.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const committed = "src/client";
const fresh = mkdtempSync(join(tmpdir(), "oaaa-client-"));

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

try {
  execFileSync("npx", ["openapi-ts"], {
    stdio: "inherit",
    env: { ...process.env, OAAA_CLIENT_OUT: fresh },
  });
  const a = new Map(files(committed).map((p) => [relative(committed, p), readFileSync(p, "utf8")]));
  const b = new Map(files(fresh).map((p) => [relative(fresh, p), readFileSync(p, "utf8")]));
  const differing = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k));
  if (differing.length > 0) {
    console.error(`The generated client is out of date (${differing.join(", ")}).`);
    console.error("Run `npm run generate-client` in frontend/ and commit src/client.");
    process.exit(1);
  }
  console.log(`Generated client matches openapi.json (${a.size} files).`);
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
