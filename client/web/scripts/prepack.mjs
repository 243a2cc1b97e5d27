// Before `npm pack`: the repository's LICENSE goes into the package (one
// licence for the whole repository), and the build must be there.
import { copyFileSync, existsSync } from "node:fs";

copyFileSync(new URL("../../../LICENSE", import.meta.url), new URL("../LICENSE", import.meta.url));
for (const file of ["index.js", "index.d.ts", "channel.js", "codes.js"]) {
  if (!existsSync(new URL(`../dist/${file}`, import.meta.url))) {
    console.error(`dist/${file} is missing: run npm run build (make web) first`);
    process.exit(1);
  }
}
