// The CLI commands that live in their own modules; src/cli/main.ts adds them with one call.

import type { Command } from 'commander';
import { addConvertCommand } from './convert.ts';

export function addCommands(program: Command): void {
  addConvertCommand(program);
}
