// The real-service test stack: `npm run services -- up|down|status|env [service...]`.
// Runs on Node >= 22.18 (native type stripping); npm puts the project's Node 24 first on PATH.
import { say } from './lib/log.ts';
import { envFile } from './lib/paths.ts';
import { ALIASES, resolveServices, SERVICES } from './registry.ts';
import { down, install, runningEnv, status, up } from './stack.ts';

const usage = `usage: npm run services -- <command> [service...]

commands:
  up      install (cached) and start the services, wait until they answer, write ${envFile}
  install install (or build) the services into the cache without starting them
  down    stop the services this script started (by pid file)
  status  show each service: up/down, pid, port
  env     print the connection settings of the running services as export lines

services: ${SERVICES.map((s) => s.name).join(', ')}
aliases:  ${Object.entries(ALIASES)
  .map(([k, v]) => `${k} = ${k === 'all' ? 'every service' : v.join(' ')}`)
  .join('; ')}
With no service named, the command applies to all of them.
Downloads and builds are cached in \${TRIGGER_HUB_CACHE:-~/.cache/trigger-hub}; state and logs in .data/services.`;

const shellQuote = (v: string) => `'${v.replaceAll("'", `'\\''`)}'`;

async function main(argv: string[]): Promise<number> {
  const [command, ...names] = argv;
  switch (command) {
    case 'up': {
      const result = await up(names);
      return result.failed.length ? 1 : 0;
    }
    case 'install':
      return (await install(names)).length ? 1 : 0;
    case 'down':
      await down(names);
      return 0;
    case 'status': {
      for (const s of await status(names)) {
        const pids = s.procs.map((p) => p.pid ?? '-').join(',');
        const ports = s.procs.map((p) => p.port).join(',');
        console.log(`${s.name.padEnd(15)} ${s.state.padEnd(15)} pid ${pids.padEnd(20)} port ${ports}`);
      }
      return 0;
    }
    case 'env': {
      const env = runningEnv();
      const wanted = resolveServices(names, false);
      const keys = new Set(wanted.flatMap((s) => Object.keys(s.env())));
      for (const svc of wanted) {
        if (!Object.keys(svc.env()).every((k) => k in env)) say(svc.name, 'not running (start it with `up`)');
      }
      for (const [k, v] of Object.entries(env)) if (keys.has(k)) console.log(`export ${k}=${shellQuote(v)}`);
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(usage);
      return command ? 0 : 2;
    default:
      console.error(`unknown command "${command}"\n\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`services: ${(err as Error).message}`);
    process.exitCode = 1;
  },
);
