#!/usr/bin/env node
/** `spms` entry point: the work is in run.ts. */
import { run } from './run.js';

run(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`spms: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
