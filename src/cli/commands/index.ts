// The CLI commands that live in their own modules; src/cli/main.ts adds them with one call.

import type { Command } from 'commander';
import { addConvertCommand } from './convert.ts';
import { addStatusCommand } from './status.ts';
import { addTailCommand } from './tail.ts';

export function addCommands(program: Command): void {
  addConvertCommand(program);
  addStatusCommand(program);
  addTailCommand(program);
}
