// Builds the dashboard into a directory (default dist/): tsc compiles src/*.ts (strict), then the
// page, the style sheet and the icon are copied beside the scripts. `loco serve` embeds dist/,
// which is committed; scripts/test-browser builds into a scratch directory and fails when it
// differs from dist/.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "dist"));
const tsc = join(here, "node_modules", "typescript", "bin", "tsc");

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
execFileSync(process.execPath, [tsc, "-p", here, "--outDir", out], { stdio: "inherit" });
for (const file of ["index.html", "style.css", "icon.svg"]) {
  copyFileSync(join(here, "src", file), join(out, file));
}
console.log(`dashboard built into ${out}`);
