#!/usr/bin/env -S npx tsx
/** The `kpi` command: parses flags and calls the same pipeline the Lambda calls. */
import { main } from '../functions/cli/main.ts';

process.exitCode = await main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  interactive: process.stderr.isTTY,
});
