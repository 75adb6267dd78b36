#!/usr/bin/env node
/** Writes the API's OpenAPI document (openapi-document.ts) to the file named, or to stdout. */
import { writeFileSync } from 'node:fs';
import { openapiDocument } from '../openapi-document.js';

openapiDocument().then(
  (doc) => {
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    if (process.argv[2]) writeFileSync(process.argv[2], text);
    else process.stdout.write(text);
  },
  (err: unknown) => {
    console.error(`openapi: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  },
);
