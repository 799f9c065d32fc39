// The one wrapper of the CEL evaluator: Trigger filters, their validation and DLQ `where` replays all parse here.

import { parse } from '@marcbachmann/cel-js';

export type CelProgram = (variables: Record<string, unknown>) => unknown;

/** Returns the parse error of a CEL expression, or undefined when it parses. */
export function isCelValid(expression: string): string | undefined {
  try {
    parse(expression);
    return undefined;
  } catch (error) {
    // cel-js puts a caret diagram after the first line; the first line is the reason.
    return (error instanceof Error ? error.message : String(error)).split('\n')[0];
  }
}

export function compileCel(expression: string): CelProgram {
  return parse(expression) as CelProgram;
}
