// First-load JavaScript of the municipal home (/), gzip, from the production build's manifest:
// the entry chunk, the route chunks of the signed-in layout and of Inicio, and everything they
// import statically. Run after `npm run build` in frontend/; `--check` fails above the budget.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_KB = 170;
const dist = join(import.meta.dirname, "..", "frontend", "dist");
const manifest = JSON.parse(readFileSync(join(dist, ".vite", "manifest.json"), "utf8"));
const roots = Object.entries(manifest)
  .filter(
    ([key, chunk]) =>
      chunk.isEntry ||
      /src\/routes\/_app\.tsx/.test(key) ||
      /src\/routes\/_app\/index\.tsx/.test(key),
  )
  .map(([key]) => key);

const seen = new Set();
const visit = (key) => {
  if (seen.has(key) || !manifest[key]) return;
  seen.add(key);
  for (const dep of manifest[key].imports ?? []) visit(dep);
};
roots.forEach(visit);

const files = [...new Set([...seen].map((k) => manifest[k].file).filter((f) => f.endsWith(".js")))];
const rows = files.map((file) => {
  const raw = readFileSync(join(dist, file));
  return { file, raw: raw.length, gzip: gzipSync(raw, { level: 9 }).length };
});
const total = rows.reduce((a, r) => a + r.gzip, 0) / 1024;
const all = Object.values(manifest)
  .map((c) => c.file)
  .filter((f) => f.endsWith(".js"));
const allGzip =
  [...new Set(all)].reduce((a, f) => a + gzipSync(readFileSync(join(dist, f)), { level: 9 }).length, 0) /
  1024;
for (const r of rows.sort((a, b) => b.gzip - a.gzip)) {
  console.log(`${(r.gzip / 1024).toFixed(1).padStart(7)} KB gzip  ${(r.raw / 1024).toFixed(1).padStart(7)} KB  ${r.file}`);
}
console.log(`first-load JS of the municipal home: ${total.toFixed(1)} KB gzip (budget ${BUDGET_KB} KB)`);
console.log(`all JS chunks together: ${allGzip.toFixed(1)} KB gzip`);
if (process.argv.includes("--check") && total > BUDGET_KB) {
  console.error(`over budget by ${(total - BUDGET_KB).toFixed(1)} KB`);
  process.exit(1);
}
