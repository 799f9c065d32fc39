// The service stack's registry (scripts/services/registry.ts): its services come from two places (this
// repository's scripts/services/ and each source's sensors/<kind>/service.ts), each with its own ports and
// settings, so the table is where a clash would show: no two services share a port, a name or a setting.

import { describe, expect, it } from 'vitest';
import { ALIASES, BACKGROUND_SERVICES, resolveServices, SERVICES } from '../../scripts/services/registry.ts';

const duplicates = (values: Array<string | number>) => values.filter((v, i) => values.indexOf(v) !== i);

describe('the service registry', () => {
  it('no two services share a name, a port or a TH_* setting', () => {
    expect(duplicates(SERVICES.map((s) => s.name))).toEqual([]);
    const ports = SERVICES.flatMap((s) => s.procs.flatMap((p) => p.ports));
    expect(duplicates(ports)).toEqual([]);
    for (const service of SERVICES) for (const proc of service.procs) expect(proc.ports).toContain(proc.port);
    const keys = SERVICES.flatMap((s) => Object.keys(s.env()));
    expect(duplicates(keys)).toEqual([]);
    expect(keys.filter((key) => !key.startsWith('TH_'))).toEqual([]);
  });

  it('dependencies, aliases, background services and instance stores name registered services', () => {
    const names = SERVICES.map((s) => s.name);
    const named = [
      ...SERVICES.flatMap((s) => s.dependsOn),
      ...Object.values(ALIASES).flat(),
      ...BACKGROUND_SERVICES,
      ...SERVICES.flatMap((s) => (s.instance?.storesIn ? [s.instance.storesIn] : [])),
    ];
    expect(named.filter((name) => !names.includes(name))).toEqual([]);
    // A dependency comes first in the table, so `up` starts it first.
    for (const service of SERVICES)
      for (const dependency of service.dependsOn)
        expect(names.indexOf(dependency), `${service.name} after ${dependency}`).toBeLessThan(
          names.indexOf(service.name),
        );
    expect(resolveServices(['kube-apiserver'], true).map((s) => s.name)).toEqual(['etcd', 'kube-apiserver']);
  });

  it("the sources' own services are in the table, with private instances for the fault suite", () => {
    const withInstances = SERVICES.filter((s) => s.instance).map((s) => s.name);
    expect(withInstances).toEqual(
      expect.arrayContaining(['redis', 'nats', 'kafka', 'kinesalite', 'minio', 'etcd', 'kube-apiserver']),
    );
  });
});
