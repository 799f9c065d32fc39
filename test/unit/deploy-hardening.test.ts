// The container image runs as a non-root user and writes only below /tmp, so it works with a read-only
// root filesystem (the Helm chart's securityContext is checked on the rendered chart, in
// test/integration/deploy/helm-chart.test.ts).

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = resolve(import.meta.dirname, '../..');
const dockerfile = readFileSync(resolve(root, 'deploy/Dockerfile'), 'utf8');

/** Every instruction, continuation lines joined. */
function instructions(): Array<{ op: string; args: string }> {
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n');
  return lines
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

/** Instructions of the final stage (after the last FROM). */
function finalStage(): Array<{ op: string; args: string }> {
  const all = instructions();
  return all.slice(all.map((i) => i.op).lastIndexOf('FROM'));
}

describe('the container image', () => {
  it('runs as a numeric non-root user (so runAsNonRoot can verify it), set after every root step', () => {
    const stage = finalStage();
    const users = stage.filter((i) => i.op === 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users.at(-1)!.args;
    expect(user).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/);
    // Nothing after USER runs as root again or needs to write outside /tmp.
    const after = stage.slice(stage.indexOf(users.at(-1)!));
    expect(after.filter((i) => i.op === 'RUN')).toEqual([]);
  });

  it('keeps its writable state under /tmp (the emptyDir of a read-only root filesystem)', () => {
    const env = finalStage()
      .filter((i) => i.op === 'ENV')
      .map((i) => i.args)
      .join(' ');
    expect(env).toMatch(/TH_DATA_DIR=\/tmp\//);
  });

  it("runs on the BASE argument, a public Node 24 image by default, with no RUN step (the tests' base has no shell)", () => {
    // scripts/services/image.ts builds this file on bases it makes itself (no registry there): the final stage
    // must need nothing from its base but `node` on PATH.
    const all = instructions();
    const firstFrom = all.findIndex((i) => i.op === 'FROM');
    const globalArgs = all
      .slice(0, firstFrom)
      .filter((i) => i.op === 'ARG')
      .map((i) => i.args);
    expect(globalArgs).toContain('BASE=node:24-bookworm-slim');
    const stage = finalStage();
    expect(stage[0]!.args).toBe('$' + '{BASE}');
    expect(stage.filter((i) => i.op === 'RUN')).toEqual([]);
  });

  it('starts node directly (exec form), so SIGTERM reaches the hub for a graceful shutdown', () => {
    const entrypoint = finalStage().find((i) => i.op === 'ENTRYPOINT')!;
    expect(JSON.parse(entrypoint.args)[0]).toBe('node');
  });
});

describe('the Helm chart defaults', () => {
  it('leave the API closed only when a token is set, and never put a secret value in plain values', () => {
    const values = parse(readFileSync(resolve(root, 'deploy/helm/trigger-hub/values.yaml'), 'utf8'));
    expect(values.auth.apiToken).toBe('');
    expect(values.redis.url).toBe('');
    const deployment = readFileSync(
      resolve(root, 'deploy/helm/trigger-hub/templates/deployment.yaml'),
      'utf8',
    );
    // The token reaches the hub from a Secret, never as an argument (visible in `ps` and the pod spec).
    expect(deployment).toMatch(/name: TH_API_TOKEN\s+valueFrom: \{ secretKeyRef:/);
    expect(deployment).not.toMatch(/--token|apiToken \}\}/);
    for (const setting of [
      'runAsNonRoot: true',
      'readOnlyRootFilesystem: true',
      'allowPrivilegeEscalation: false',
      'capabilities: { drop: [ALL] }',
      'seccompProfile: { type: RuntimeDefault }',
    ])
      expect(deployment).toContain(setting);
  });
});
