// The hub's container image, built from deploy/Dockerfile with buildah on bases made here from Debian
// packages (no container registry is reachable on the test machines): `npm run image` or ensureImage().
//
// - Runtime base: libc6 + libstdc++6 (+ libgcc-s1) extracted by mmdebstrap, the project's pinned Node 24
//   binary (stripped), /etc/passwd with uid 1000, /tmp. No shell, no package manager.
// - Build base: Debian minbase + the same Node + npm (the npm registry's `npm` package), for `npm ci`.
// Both tars are cached under $CACHE/image/, keyed by a hash of their recipe, and imported into podman's
// storage only when that tag is missing. The image is tagged by a hash of its inputs (Dockerfile, ignore
// file, package files, bin/ src/ sensors/ deploy/crds/ and the bases) and built only when that tag is
// missing; buildah's layer cache keeps the `npm ci` layer when only sources changed.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { arch } from 'node:os';
import { join, relative } from 'node:path';
import { run, which } from './lib/exec.ts';
import { aptEnsure, installLog, serialInstall } from './lib/install.ts';
import { formatDuration, say } from './lib/log.ts';
import { cacheDir, repoRoot } from './lib/paths.ts';

const SCOPE = 'image';
export const IMAGE_REPOSITORY = 'localhost/trigger-hub';
const BASE_REPOSITORY = 'localhost/th-node';
/** npm in the build base (the npm registry's `npm` package; the `node` package brings no npm). */
const NPM_VERSION = '11.19.1';
/** Bump to rebuild the bases when the recipe below changes in a way its inputs do not show. */
const RECIPE_VERSION = '1';
/** What buildah and podman need on this machine (runc: crun refuses its cgroups; explicit ulimits). */
export const RUNTIME_FLAGS = ['--runtime', 'runc'];
export const ULIMITS = ['--ulimit', 'nofile=16384:16384', '--ulimit', 'nproc=1024:1024'];
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ImageInfo {
  /** The tag to run, e.g. localhost/trigger-hub:3f2a…. */
  image: string;
  base: string;
  buildBase: string;
  /** False when the tag already existed (nothing was built). */
  built: boolean;
  /** Time ensureImage took, bases and build included. */
  ms: number;
  /** podman's size of the image (all its layers, uncompressed), bytes. */
  sizeBytes: number;
}

const imageDir = join(cacheDir, 'image');
const dockerfile = join(repoRoot, 'deploy', 'Dockerfile');
const ignoreFile = join(repoRoot, 'deploy', 'Dockerfile.dockerignore');

/** Runs a command and returns its stdout (for podman queries); rejects with its stderr. */
function capture(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

/** `podman image exists`: exit 0 yes, 1 no, anything else is an error. */
function imageExists(tag: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    execFile('podman', ['image', 'exists', tag], (error, _stdout, stderr) => {
      if (!error) resolve(true);
      else if (error.code === 1) resolve(false);
      else reject(new Error(`podman image exists ${tag}: ${stderr.trim() || error.message}`));
    });
  });
}

export async function imageSize(tag: string): Promise<number> {
  return Number((await capture('podman', ['image', 'inspect', '--format', '{{.Size}}', tag])).trim());
}

const hash = (...parts: Array<string | Buffer>) => {
  const h = createHash('sha256');
  for (const part of parts) h.update(part).update('\0');
  return h.digest('hex').slice(0, 16);
};

/** The Debian release of this machine (its apt serves that one), bookworm if it does not say. */
function debianSuite(): string {
  try {
    const osRelease = readFileSync('/etc/os-release', 'utf8');
    return /^VERSION_CODENAME=(\w+)/m.exec(osRelease)?.[1] ?? 'bookworm';
  } catch {
    return 'bookworm';
  }
}

/** The project's pinned Node binary (the npm package `node` → node-linux-<arch>). */
function pinnedNode(): { binary: string; version: string } {
  const pkg = `node-linux-${arch()}`;
  for (const dir of [
    join(repoRoot, 'node_modules', 'node', 'node_modules', pkg),
    join(repoRoot, 'node_modules', pkg),
  ]) {
    const binary = join(dir, 'bin', 'node');
    if (existsSync(binary)) {
      const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string };
      return { binary, version };
    }
  }
  throw new Error(`the pinned Node (npm package ${pkg}) is not installed: run npm install first`);
}

const npmTgz = join(imageDir, `npm-${NPM_VERSION}.tgz`);
const shellQuote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;

/** npm's package tarball, downloaded once into the cache with the ordinary client. */
async function ensureNpmTarball(): Promise<void> {
  const file = npmTgz;
  if (existsSync(file)) return;
  const npm = which('npm');
  if (!npm) throw new Error('npm is needed once to fetch npm itself for the image build base');
  const scratch = `${file}.partial.d`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  say(SCOPE, `fetching npm@${NPM_VERSION} from the npm registry`);
  await run(npm, ['pack', `npm@${NPM_VERSION}`, '--pack-destination', scratch], {
    scope: SCOPE,
    label: 'fetching npm',
    log: installLog(SCOPE),
    cwd: scratch,
  });
  renameSync(join(scratch, `npm-${NPM_VERSION}.tgz`), file);
  rmSync(scratch, { recursive: true, force: true });
}

interface BaseRecipe {
  name: 'runtime' | 'build';
  args: string[];
}

/**
 * The two bases as mmdebstrap command lines. Hooks run on the host with the new root in "$1": they put in the
 * stripped Node (and npm), a passwd entry for uid 1000 and a world-writable /tmp.
 */
function baseRecipes(suite: string, nodeStaged: string): BaseRecipe[] {
  const mirrors = [
    `deb http://deb.debian.org/debian ${suite} main`,
    `deb http://deb.debian.org/debian ${suite}-updates main`,
    `deb http://deb.debian.org/debian-security ${suite}-security main`,
  ];
  const files = [
    `install -D -m 0755 ${shellQuote(nodeStaged)} "$1/usr/local/bin/node"`,
    `mkdir -p "$1/tmp" "$1/etc" && chmod 1777 "$1/tmp"`,
  ].join(' && ');
  // Added only when missing (minbase has root's entries from base-passwd; the extract variant has none).
  const users = [
    `grep -q '^root:' "$1/etc/passwd" 2>/dev/null || echo 'root:x:0:0:root:/root:/usr/sbin/nologin' >> "$1/etc/passwd"`,
    `echo 'node:x:1000:1000:node:/tmp:/usr/sbin/nologin' >> "$1/etc/passwd"`,
    `grep -q '^root:' "$1/etc/group" 2>/dev/null || echo 'root:x:0:' >> "$1/etc/group"`,
    `echo 'node:x:1000:' >> "$1/etc/group"`,
  ].join(' && ');
  const npm = [
    `mkdir -p "$1/usr/local/lib/node_modules/npm"`,
    `tar -xzf ${shellQuote(npmTgz)} -C "$1/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner`,
    `ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"`,
    `ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"`,
  ].join(' && ');
  return [
    {
      // Extract: the packages' files only, no maintainer scripts, no Essential set (so no shell): what a
      // dynamically linked Node needs (ldd: libc, libm, libdl, libpthread, libstdc++, libgcc_s).
      name: 'runtime',
      args: [
        '--variant=extract',
        '--include=libc6,libstdc++6,libgcc-s1',
        `--extract-hook=${files} && ${users}`,
      ],
    },
    {
      name: 'build',
      args: [
        '--variant=minbase',
        ...['doc', 'man', 'locale', 'info'].map((dir) => `--dpkgopt=path-exclude=/usr/share/${dir}/*`),
        `--customize-hook=${files} && ${users} && ${npm}`,
      ],
    },
  ].map((recipe) => ({
    name: recipe.name as BaseRecipe['name'],
    args: [...recipe.args, suite, '__OUT__', ...mirrors],
  }));
}

/** Makes (or reuses) both bases; returns their tags. */
async function ensureBases(): Promise<{ base: string; buildBase: string }> {
  const suite = debianSuite();
  const node = pinnedNode();
  mkdirSync(imageDir, { recursive: true });
  // Node is staged stripped (108 instead of 127 MB; .dynsym stays, so native addons still link).
  const nodeStaged = join(imageDir, `node-${node.version}-stripped`);
  const tags: Record<string, string> = {};
  for (const recipe of baseRecipes(suite, nodeStaged)) {
    const key = hash(RECIPE_VERSION, recipe.name, node.version, NPM_VERSION, ...recipe.args);
    const tag = `${BASE_REPOSITORY}:${recipe.name}-${key}`;
    tags[recipe.name] = tag;
    if (await imageExists(tag)) continue;
    const tar = join(imageDir, `th-node-${recipe.name}-${key}.tar`);
    if (!existsSync(tar)) {
      if (!existsSync(nodeStaged)) {
        await run('install', ['-m', '0755', node.binary, `${nodeStaged}.partial`], {
          scope: SCOPE,
          label: 'staging node',
          log: installLog(SCOPE),
        });
        await run('strip', [`${nodeStaged}.partial`], {
          scope: SCOPE,
          label: 'stripping node',
          log: installLog(SCOPE),
        });
        renameSync(`${nodeStaged}.partial`, nodeStaged);
      }
      if (recipe.name === 'build') await ensureNpmTarball();
      const t0 = Date.now();
      say(SCOPE, `making the ${recipe.name} base (Debian ${suite}, Node ${node.version}) with mmdebstrap`);
      const partial = `${tar}.partial.tar`;
      rmSync(partial, { force: true });
      await run(
        'mmdebstrap',
        recipe.args.map((arg) => (arg === '__OUT__' ? partial : arg)),
        {
          scope: SCOPE,
          label: `making the ${recipe.name} base`,
          log: installLog(SCOPE),
        },
      );
      renameSync(partial, tar);
      // The tars of earlier recipes are of no further use (their images stay until removed with podman rmi).
      for (const old of readdirSync(imageDir))
        if (old.startsWith(`th-node-${recipe.name}-`) && join(imageDir, old) !== tar)
          rmSync(join(imageDir, old), { force: true });
      say(SCOPE, `made the ${recipe.name} base in ${formatDuration(Date.now() - t0)}`);
    }
    await run('podman', ['import', '--change', `ENV ${PATH_ENV}`, tar, tag], {
      scope: SCOPE,
      label: `importing the ${recipe.name} base`,
      log: installLog(SCOPE),
    });
  }
  return { base: tags.runtime!, buildBase: tags.build! };
}

/** `--secret id=npm_ca,src=…` for the CA bundle Node is told to trust here, when there is one. */
function npmCaSecret(): string[] {
  const candidates = [
    process.env.NODE_EXTRA_CA_CERTS,
    process.env.SSL_CERT_FILE,
    '/etc/ssl/certs/ca-certificates.crt',
  ];
  const file = candidates.find((path) => path && existsSync(path));
  return file ? ['--secret', `id=npm_ca,src=${file}`] : [];
}

/** Every file under `dir` (relative path → contents), minus what the ignore file keeps out of the build. */
function walk(dir: string, into: Array<[string, Buffer]>): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'fixtures' && entry.name !== 'node_modules') walk(path, into);
    } else if (entry.isFile() && !entry.name.endsWith('.test.ts')) {
      into.push([relative(repoRoot, path), readFileSync(path)]);
    }
  }
}

/** A hash of everything the build reads (the ignore file's rules, roughly: extra files only cost a build). */
export function inputsHash(bases: { base: string; buildBase: string }): string {
  const files: Array<[string, Buffer]> = [];
  for (const file of [
    'deploy/Dockerfile',
    'deploy/Dockerfile.dockerignore',
    'package.json',
    'package-lock.json',
  ])
    files.push([file, readFileSync(join(repoRoot, file))]);
  for (const dir of ['bin', 'src', 'sensors', 'deploy/crds']) walk(join(repoRoot, dir), files);
  files.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return hash(bases.base, bases.buildBase, ...files.flat());
}

/**
 * The image of the current sources, built if missing: installs podman, buildah and mmdebstrap with apt when
 * missing, makes the bases when missing, and builds when no image has this tag. Serialized with the other
 * installs of this process (a cold build and a Go build would only slow each other down).
 */
export function ensureImage(): Promise<ImageInfo> {
  return serialInstall(async () => {
    const t0 = Date.now();
    await aptEnsure(SCOPE, [
      { command: 'podman', pkg: 'podman' },
      { command: 'buildah', pkg: 'buildah' },
      { command: 'mmdebstrap', pkg: 'mmdebstrap' },
      { command: 'runc', pkg: 'runc' },
      { command: 'newuidmap', pkg: 'uidmap' },
      { command: 'fuse-overlayfs', pkg: 'fuse-overlayfs' },
      { command: 'strip', pkg: 'binutils' },
    ]);
    const bases = await ensureBases();
    const image = `${IMAGE_REPOSITORY}:${inputsHash(bases)}`;
    let built = false;
    if (!(await imageExists(image))) {
      const tb = Date.now();
      say(SCOPE, `building ${image} with buildah (cold: a few minutes; log ${installLog(SCOPE)})`);
      // buildah tags only a finished build, so an interrupted one is never taken for done.
      await run(
        'buildah',
        [
          ...RUNTIME_FLAGS,
          'build',
          '--layers',
          // No working container is left behind by a failed step.
          '--force-rm',
          // RUN steps (npm ci) reach the npm registry through the host's network.
          '--network',
          'host',
          ...ULIMITS,
          '--build-arg',
          `BASE=${bases.base}`,
          '--build-arg',
          `BUILD_BASE=${bases.buildBase}`,
          // The CA bundle this machine's npm trusts (a TLS-inspecting proxy's, here), as a build secret:
          // it is mounted for `npm ci` only and is in no layer.
          ...npmCaSecret(),
          '--ignorefile',
          ignoreFile,
          '-f',
          dockerfile,
          '-t',
          image,
          repoRoot,
        ],
        { scope: SCOPE, label: `building ${image}`, log: installLog(SCOPE) },
      );
      built = true;
      say(SCOPE, `built ${image} in ${formatDuration(Date.now() - tb)}`);
    }
    return { image, ...bases, built, ms: Date.now() - t0, sizeBytes: await imageSize(image) };
  });
}

if (import.meta.main) {
  try {
    const info = await ensureImage();
    writeFileSync(1, `${JSON.stringify(info, null, 2)}\n`);
    say(
      SCOPE,
      `${info.image}: ${(info.sizeBytes / 1e6).toFixed(1)} MB, ${info.built ? 'built' : 'already built'} in ${formatDuration(info.ms)} (${info.ms} ms)`,
    );
  } catch (error) {
    say(SCOPE, error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
