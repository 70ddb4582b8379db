// Locating the npm packages that ship the raw data, so caches record exactly which version they
// were built from and a package upgrade invalidates them.
import * as fs from 'fs';
import * as path from 'path';

export interface NpmPackage {
  name: string;
  version: string;
  dir: string;
  /** "name@version", stored in cache headers. */
  id: string;
}

export function findPackage(name: string): NpmPackage {
  let pkgJson: string;
  try {
    pkgJson = require.resolve(`${name}/package.json`);
  } catch {
    throw new Error(`npm package '${name}' is not installed: run npm install in the course folder`);
  }
  const version = (JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { version: string }).version;
  return { name, version, dir: path.dirname(pkgJson), id: `${name}@${version}` };
}

/** Parses one of the package's JSON files, which all hold `{ "data": [...] }`. */
export function readPackageJson(pkg: NpmPackage, rel: string): unknown[] {
  const file = path.join(pkg.dir, rel);
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { data?: unknown };
  if (!Array.isArray(parsed.data)) throw new Error(`${file}: expected an object with a "data" array`);
  return parsed.data;
}
