// `make web-pack`: npm pack into the directory given (default: the
// repository's target/web-pack), then prints the tarball's path and sizes.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";

const dest = resolve(process.argv[2] ?? new URL("../../../target/web-pack", import.meta.url).pathname);
mkdirSync(dest, { recursive: true });
const out = execFileSync("npm", ["pack", "--json", "--silent", "--pack-destination", dest], {
  cwd: new URL("..", import.meta.url),
  encoding: "utf8",
  stdio: ["ignore", "pipe", "inherit"],
});
const [info] = JSON.parse(out.slice(out.indexOf("[")));
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const code = info.files.filter((f) => f.path.endsWith(".js")).reduce((n, f) => n + f.size, 0);
console.log(`${resolve(dest, info.filename)}`);
console.log(
  `${info.name}@${info.version}: ${kib(info.size)} packed, ${kib(info.unpackedSize)} unpacked, ${info.entryCount} files (${kib(code)} of JavaScript)`,
);
