// Turns the desired set of Triggers (from files or the cluster) into running triggers: starts new ones,
// restarts changed ones, stops removed ones. A trigger that fails to start is reported and the rest run on.

import { isDeepStrictEqual } from 'node:util';
import { errorMessage } from '../errors.ts';
import type { DesiredTrigger, InvalidTrigger } from '../trigger/load.ts';
import type { Trigger } from '../trigger/schema.ts';
import { RunningTrigger, type TriggerEnvironment, triggerRef } from './running-trigger.ts';

/** Triggers started at once when many are applied. */
const startConcurrency = 16;

export interface TriggerState {
  key: string;
  origin: string;
  state: 'running' | 'failed' | 'invalid';
  error?: string;
  trigger?: Trigger;
  running?: RunningTrigger;
}

export class Engine {
  private readonly states = new Map<string, TriggerState>();
  private readonly env: TriggerEnvironment;
  private readonly stopDeadlineMs: number;
  private applying: Promise<void> = Promise.resolve();
  private appliedOnce = false;

  constructor(env: TriggerEnvironment, options: { stopDeadlineMs?: number } = {}) {
    this.env = env;
    this.stopDeadlineMs = options.stopDeadlineMs ?? 10_000;
  }

  /** Whether a first set of Triggers was applied (until then a webhook path may just not be loaded yet). */
  get applied(): boolean {
    return this.appliedOnce;
  }

  /** Applies are serialized: a reload that arrives mid-apply runs after it. */
  apply(desired: DesiredTrigger[], invalid: InvalidTrigger[] = []): Promise<void> {
    this.applying = this.applying.then(() => this.reconcile(desired, invalid));
    return this.applying;
  }

  list(): TriggerState[] {
    return [...this.states.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  get(key: string): TriggerState | undefined {
    return this.states.get(key);
  }

  async stop(): Promise<void> {
    await this.apply([]);
  }

  private async reconcile(desired: DesiredTrigger[], invalid: InvalidTrigger[]): Promise<void> {
    const wanted = new Map(desired.map((item) => [triggerRef(item.trigger).key, item]));
    const invalidKeys = new Map(invalid.map((item) => [item.key, item]));
    const stops: Promise<void>[] = [];
    for (const [key, state] of this.states) {
      const next = wanted.get(key);
      const unchanged = next && state.trigger && isDeepStrictEqual(state.trigger.spec, next.trigger.spec);
      // An invalid new version leaves the running version alone, so a typo does not stop a working trigger.
      if (unchanged || (!next && invalidKeys.has(key) && state.running)) continue;
      this.states.delete(key);
      if (state.running) stops.push(this.stopQuietly(state));
    }
    await Promise.all(stops);
    const starts: Array<[string, DesiredTrigger]> = [];
    for (const [key, item] of wanted) {
      const kept = this.states.get(key);
      if (kept) {
        kept.trigger = item.trigger;
        delete kept.error;
        continue;
      }
      starts.push([key, item]);
    }
    // Started a few at a time: a hub of 1,000 triggers is ready in seconds, yet no source is flooded.
    for (let i = 0; i < starts.length; i += startConcurrency) {
      const batch = starts.slice(i, i + startConcurrency);
      const states = await Promise.all(batch.map(([key, item]) => this.startTrigger(key, item)));
      batch.forEach(([key], j) => {
        this.states.set(key, states[j]!);
      });
    }
    for (const item of invalid) {
      const current = this.states.get(item.key);
      if (current?.running) {
        current.error = `a newer version is invalid and was not applied: ${item.error}`;
        continue;
      }
      this.states.set(item.key, { key: item.key, origin: item.origin, state: 'invalid', error: item.error });
    }
    this.appliedOnce = true;
    this.env.log.info(
      { running: this.list().filter((s) => s.state === 'running').length },
      'triggers applied',
    );
  }

  private async startTrigger(key: string, item: DesiredTrigger): Promise<TriggerState> {
    try {
      const running = new RunningTrigger(item.trigger, this.env);
      await running.start();
      this.env.log.info({ trigger: key, origin: item.origin }, 'trigger started');
      return { key, origin: item.origin, state: 'running', trigger: item.trigger, running };
    } catch (error) {
      this.env.log.error(
        { trigger: key, origin: item.origin, err: errorMessage(error) },
        'trigger failed to start',
      );
      return { key, origin: item.origin, state: 'failed', trigger: item.trigger, error: errorMessage(error) };
    }
  }

  private async stopQuietly(state: TriggerState): Promise<void> {
    try {
      await state.running!.stop(this.stopDeadlineMs);
    } catch (error) {
      this.env.log.warn({ trigger: state.key, err: errorMessage(error) }, 'trigger did not stop cleanly');
    }
  }
}
