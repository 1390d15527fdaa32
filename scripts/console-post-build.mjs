// Trunk post-build hook (Trunk.toml): in release builds, minifies the console's JavaScript
// with terser, and writes the new sha384 of each minified file into index.html's integrity
// attributes. Trunk's own JS minifier cannot parse the glue wasm-bindgen generates and leaves
// it as it is (comments and all); minified, the first load is ~1.9 KB brotli smaller.
// terser comes from the npm package in .local/node (scripts/setup-console.sh).
// Then it writes a brotli (-q 11) and a gzip (-9) copy beside every file the browser loads
// (name.br, name.gz), which `hanko serve` sends to browsers that accept them (tower-http's
// ServeDir, precompressed): compressed once here at the highest level, never per request.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

if (process.env.TRUNK_PROFILE !== "release") process.exit(0);

const staging = process.env.TRUNK_STAGING_DIR;
const root = process.cwd();
let terser;
try {
  terser = createRequire(join(root, ".local/node/package.json"))("terser");
} catch (e) {
  console.error("console-post-build: terser is missing; run scripts/setup-console.sh");
  process.exit(1);
}

const sri = (bytes) => "sha384-" + createHash("sha384").update(bytes).digest("base64");
const indexPath = join(staging, "index.html");
let index = readFileSync(indexPath, "utf8");

for (const name of readdirSync(staging).filter((f) => f.endsWith(".js"))) {
  const path = join(staging, name);
  const before = readFileSync(path);
  const out = await terser.minify(before.toString("utf8"), {
    module: name !== "boot.js",
    compress: true,
    mangle: true,
    format: { comments: false },
  });
  writeFileSync(path, out.code);
  index = index.split(sri(before)).join(sri(Buffer.from(out.code)));
  console.log(`console-post-build: ${name} ${before.length} -> ${out.code.length} bytes`);
}
writeFileSync(indexPath, index);

for (const name of readdirSync(staging).filter((f) => /\.(html|js|wasm|css|svg)$/.test(f))) {
  const bytes = readFileSync(join(staging, name));
  const br = brotliCompressSync(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_LGWIN]: 22,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  });
  writeFileSync(join(staging, name + ".br"), br);
  writeFileSync(join(staging, name + ".gz"), gzipSync(bytes, { level: 9 }));
  console.log(`console-post-build: ${name} ${bytes.length} -> ${br.length} bytes brotli`);
}
