/** Progress goes to stderr, so stdout holds only the report. */
export const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
