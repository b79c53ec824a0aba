#!/usr/bin/env node
// Checks that every internal link of a generated HTML site resolves: each relative href/src
// names a file that exists, and each #fragment an id (or name) in that file. Links with a
// scheme (https:, mailto:) and protocol-relative ones are not followed.
//   node scripts/check-links.mjs docs/api
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

function htmlFiles(dir) {
  return readdirSync(dir, { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => f.endsWith(".html") && statSync(f).isFile());
}

const anchorCache = new Map();
function anchors(file) {
  let set = anchorCache.get(file);
  if (!set) {
    set = new Set();
    for (const m of readFileSync(file, "utf8").matchAll(/\s(?:id|name)="([^"]*)"/g)) set.add(m[1]);
    anchorCache.set(file, set);
  }
  return set;
}

/** Every internal link of the site under `dir`: `{ checked, files, broken: ["from -> to (why)"] }`. */
export function checkLinks(dir) {
  const root = resolve(dir);
  const files = htmlFiles(root);
  const broken = [];
  let checked = 0;
  for (const file of files) {
    const html = readFileSync(file, "utf8");
    for (const m of html.matchAll(/\s(?:href|src)="([^"]*)"/g)) {
      const link = m[1].replaceAll("&amp;", "&");
      if (/^[a-z][a-z0-9+.-]*:/i.test(link) || link.startsWith("//")) continue;
      checked++;
      const [path, fragment] = link.split("#", 2);
      const target = path ? resolve(dirname(file), decodeURIComponent(path.split("?")[0])) : file;
      const from = relative(root, file);
      if (!target.startsWith(root)) broken.push(`${from} -> ${link} (outside the site)`);
      else if (!existsSync(target)) broken.push(`${from} -> ${link} (no such file)`);
      else if (fragment && target.endsWith(".html") && !anchors(target).has(decodeURIComponent(fragment)))
        broken.push(`${from} -> ${link} (no id "${fragment}" there)`);
    }
  }
  return { checked, files: files.length, broken };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write("usage: check-links.mjs <site-dir>\n");
    process.exit(2);
  }
  const { checked, files, broken } = checkLinks(dir);
  for (const b of broken) process.stderr.write(`broken link: ${b}\n`);
  process.stdout.write(`check-links: ${checked} internal links in ${files} pages, ${broken.length} broken\n`);
  process.exit(broken.length ? 1 : 0);
}
