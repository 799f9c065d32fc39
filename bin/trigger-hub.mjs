#!/usr/bin/env node
// Runs the TypeScript CLI directly: Node >= 22.18 strips types natively (the project ships Node 24 as a
// devDependency; `npm start` and `npm test` use it).
await import('../src/cli/main.ts');
