// Copies the pinned front-end libraries out of node_modules into the served static tree, so the
// dashboard and the API docs (/docs) work without any CDN. Run by `npm run build` (the
// Makefile's bootstrap rule runs `npm ci` then this).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const vendor = join(here, "static", "vendor");
const files = [
  "lightweight-charts/dist/lightweight-charts.standalone.production.js",
  "swagger-ui-dist/swagger-ui-bundle.js",
  "swagger-ui-dist/swagger-ui.css",
];
mkdirSync(vendor, { recursive: true });
for (const file of files) {
  const source = join(root, "node_modules", file);
  const target = join(vendor, file.split("/").pop());
  copyFileSync(source, target);
  console.log(`copied ${source} -> ${target}`);
}
