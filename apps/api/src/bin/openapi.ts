#!/usr/bin/env node
/** Writes the API's OpenAPI document (openapi-document.ts) to the file named, or to stdout. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { openapiDocument } from '../openapi-document.js';

openapiDocument().then(
  (doc) => {
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    if (process.argv[2]) {
      // The generated folder is not in git: a clean clone has none yet.
      mkdirSync(dirname(process.argv[2]), { recursive: true });
      writeFileSync(process.argv[2], text);
    } else process.stdout.write(text);
  },
  (err: unknown) => {
    console.error(`openapi: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  },
);
