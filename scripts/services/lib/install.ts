import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, which } from './exec.ts';
import { formatDuration, say } from './log.ts';
import { cacheDir, fixturesDir, logDir } from './paths.ts';

let queue: Promise<unknown> = Promise.resolve();

/**
 * Installs run one at a time: apt holds the dpkg lock, and a Go build already uses both cores, so running
 * two at once only makes each slower. Services whose install is done start while the next one installs.
 */
export function serialInstall<T>(fn: () => Promise<T>): Promise<T> {
  const next = queue.then(fn, fn);
  queue = next.catch(() => undefined);
  return next;
}

export const installLog = (name: string) => join(logDir, `install-${name}.log`);

export interface AptNeed {
  /** The command that must be on PATH. */
  command: string;
  /** The Debian package that provides it. */
  pkg: string;
}

let aptUpdated = false;

/** Installs the Debian packages whose commands are missing (apt-get update first, once, only then). */
export async function aptEnsure(scope: string, needs: AptNeed[]): Promise<void> {
  const missing = needs.filter((n) => !which(n.command));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((n) => n.pkg))];
  if (!which('apt-get')) {
    throw new Error(
      `${missing.map((m) => m.command).join(', ')} not found and apt-get is not available: install ${pkgs.join(' ')}`,
    );
  }
  const asRoot = process.getuid?.() === 0;
  if (!asRoot && !which('sudo')) throw new Error(`need root (or sudo) to apt-get install ${pkgs.join(' ')}`);
  const cmd = asRoot ? 'apt-get' : 'sudo';
  const pre = asRoot ? [] : ['-n', 'apt-get'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const log = installLog('apt');
  const t0 = Date.now();
  // Debian's packages start their daemon on its default port after install (redis on 6379). A policy-rc.d
  // that answers 101 stops that; it is put in place only if none exists, and removed afterwards.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = asRoot && !existsSync(policy);
  if (ownPolicy)
    writeFileSync(
      policy,
      '#!/bin/sh\n# trigger-hub services: no daemon starts during apt-get install\nexit 101\n',
      { mode: 0o755 },
    );
  try {
    if (!aptUpdated) {
      say(scope, 'apt-get update');
      await run(cmd, [...pre, 'update'], { scope, label: 'running apt-get update', log, env });
      aptUpdated = true;
    }
    say(scope, `apt-get install ${pkgs.join(' ')}`);
    await run(cmd, [...pre, 'install', '-y', '--no-install-recommends', ...pkgs], {
      scope,
      label: `installing ${pkgs.join(' ')}`,
      log,
      env,
    });
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
  for (const n of missing) {
    if (!which(n.command)) throw new Error(`${n.pkg} was installed but ${n.command} is still not on PATH`);
  }
  say(scope, `installed ${pkgs.join(' ')} in ${formatDuration(Date.now() - t0)}`);
}

/** Go's caches live in the project cache so that they are kept (and can be deleted) with it. */
export function goEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOPATH: join(cacheDir, 'go', 'path'),
    GOMODCACHE: join(cacheDir, 'go', 'mod'),
    GOCACHE: join(cacheDir, 'go', 'build'),
    // -modcacherw: the module cache is normally read-only, which makes `rm -rf` of the cache fail.
    GOFLAGS: '-buildvcs=false -modcacherw',
    ...extra,
  };
}

// Debian's golang-go (1.19 on bookworm) is too old for these modules, so a missing Go is an error, not an install.
async function ensureGo(_scope: string): Promise<void> {
  if (!which('go')) throw new Error('the Go toolchain (go >= 1.24, on PATH) is needed to build this service');
}

/** Binaries are cached per name and version: $CACHE/bin/<name>-<version>/<binary>. */
export function cachedBinary(name: string, version: string, binary = name): string {
  return join(cacheDir, 'bin', `${name}-${version}`, binary);
}

/** `go install module@version` into the cache, unless that version is already there. */
export async function goInstall(
  scope: string,
  spec: { name: string; module: string; version: string; binary: string; tags?: string },
): Promise<string> {
  const target = cachedBinary(spec.name, spec.version, spec.binary);
  if (existsSync(target)) return target;
  await ensureGo(scope);
  const t0 = Date.now();
  say(scope, `building ${spec.module}@${spec.version} with go install (cold: a few minutes)`);
  // Built into a scratch GOBIN and moved into place whole, so an interrupted build is never taken for a cached one.
  const scratch = `${target}.partial`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  // -s -w: no symbol tables or DWARF, a shorter link and a smaller binary; tests need no debugger.
  const tags = spec.tags ? [`-tags=${spec.tags}`] : [];
  await run('go', ['install', '-trimpath', '-ldflags=-s -w', ...tags, `${spec.module}@${spec.version}`], {
    scope,
    label: `building ${spec.name}`,
    log: installLog(spec.name),
    env: goEnv({ GOBIN: scratch }),
  });
  renameSync(join(scratch, spec.binary), target);
  rmSync(scratch, { recursive: true, force: true });
  say(scope, `built ${spec.name} ${spec.version} in ${formatDuration(Date.now() - t0)}`);
  return target;
}

/**
 * Builds a main package of a module that cannot be `go install`ed (its go.mod has replace directives)
 * through a small wrapper module in fixtures/services/go/<name> that pins what those replaces point at.
 */
export async function goWrapperBuild(
  scope: string,
  spec: { name: string; version: string; pkg: string; ldflags?: string },
): Promise<string> {
  const target = cachedBinary(spec.name, spec.version);
  if (existsSync(target)) return target;
  await ensureGo(scope);
  const t0 = Date.now();
  say(
    scope,
    `building ${spec.pkg} ${spec.version} from the Go module proxy (cold: up to ~5 minutes on 2 cores)`,
  );
  const src = join(cacheDir, 'src', `${spec.name}-${spec.version}`);
  mkdirSync(src, { recursive: true });
  for (const f of ['go.mod', 'go.sum']) copyFileSync(join(fixturesDir, 'go', spec.name, f), join(src, f));
  const partial = `${target}.partial`;
  const args = ['build', '-trimpath', '-o', partial];
  if (spec.ldflags) args.push(`-ldflags=${spec.ldflags}`);
  args.push(spec.pkg);
  await run('go', args, {
    scope,
    label: `building ${spec.name}`,
    log: installLog(spec.name),
    cwd: src,
    env: goEnv(),
  });
  renameSync(partial, target);
  say(scope, `built ${spec.name} ${spec.version} in ${formatDuration(Date.now() - t0)}`);
  return target;
}

/**
 * The source tree of a Go module at a version, from the Go module proxy (`go mod download`) into the project's
 * module cache: for files a module ships beside its code (e.g. KEDA's CRDs). Idempotent; the cache keeps it.
 */
export async function goModuleDir(scope: string, module: string, version: string): Promise<string> {
  // The module cache escapes upper-case letters in paths as !lower (golang.org/x/mod/module.EscapePath).
  const escaped = module.replace(/[A-Z]/g, (letter) => `!${letter.toLowerCase()}`);
  const dir = join(cacheDir, 'go', 'mod', `${escaped}@${version}`);
  if (existsSync(dir)) return dir;
  await ensureGo(scope);
  say(scope, `downloading ${module}@${version} from the Go module proxy`);
  mkdirSync(cacheDir, { recursive: true });
  await run('go', ['mod', 'download', `${module}@${version}`], {
    scope,
    label: `downloading ${module}`,
    log: installLog(scope),
    cwd: cacheDir,
    env: goEnv(),
  });
  if (!existsSync(dir)) throw new Error(`go mod download ${module}@${version} left no ${dir}`);
  return dir;
}
