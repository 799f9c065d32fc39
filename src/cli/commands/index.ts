// The CLI commands that live in their own modules; src/cli/main.ts adds them with one call.

import type { Command } from 'commander';
import { addBackfillCommand } from './backfill.ts';
import { addConvertCommand } from './convert.ts';
import { addStatusCommand } from './status.ts';
import { addTailCommand } from './tail.ts';

export function addCommands(program: Command): void {
  const before = new Set(program.commands);
  addBackfillCommand(program);
  addConvertCommand(program);
  addStatusCommand(program);
  addTailCommand(program);
  // Usage errors (a missing argument, an unknown option or choice) exit 2, as documented; commander's
  // default is 1, which is the code of a command that ran and failed.
  for (const command of program.commands.filter((item) => !before.has(item)))
    command.exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));
}
