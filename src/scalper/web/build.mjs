// Copies the pinned charting library out of node_modules into the served static tree.
// Run by `npm run build` (the Makefile's bootstrap rule runs `npm ci` then this).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const source = join(
  root,
  "node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js",
);
const target = join(here, "static", "vendor", "lightweight-charts.standalone.production.js");
mkdirSync(dirname(target), { recursive: true });
copyFileSync(source, target);
console.log(`copied ${source} -> ${target}`);
