/**
 * The dashboard's reading of the API is checked by the compiler: its answer types are
 * generated from the API's OpenAPI document (src/api/types.ts). Here the document is built
 * from the API's source, one response field is renamed, and the dashboard's normalizer no
 * longer compiles — the same document unchanged compiles cleanly.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openapiDocument } from '../../api/src/openapi-document.js';

const api = fileURLToPath(new URL('../src/api/', import.meta.url));
const dirs: string[] = [];

/** Type-checks a copy of src/api/{normalize,types}.ts against types generated from `doc`. */
async function compile(doc: OpenAPI3): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'spms-web-types-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'generated'));
  writeFileSync(join(dir, 'generated', 'schema.d.ts'), astToString(await openapiTS(doc)));
  await Promise.all(['normalize.ts', 'types.ts'].map((f) => copyFile(join(api, f), join(dir, f))));
  const program = ts.createProgram([join(dir, 'normalize.ts')], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    strict: true,
    noUncheckedIndexedAccess: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  });
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe('dashboard types generated from the OpenAPI document', () => {
  let doc: OpenAPI3;
  beforeAll(async () => {
    doc = (await openapiDocument()) as OpenAPI3;
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('compiles against the document as the API builds it', async () => {
    expect(await compile(doc)).toEqual([]);
  });

  it('fails to compile when a route renames a response field the dashboard reads', async () => {
    const renamed = structuredClone(doc) as unknown as {
      paths: Record<string, { get: { responses: Record<string, { content: Record<string, { schema: Schema }> }> } }>;
    };
    interface Schema {
      properties: Record<string, Schema & { items: Schema }>;
      required: string[];
    }
    const status = renamed.paths['/api/status/']?.get.responses['200']?.content['application/json']?.schema;
    const device = status?.properties.devices?.items;
    expect(device?.properties.connectionLost).toBeDefined();
    if (!device) return;
    device.properties.lost = device.properties.connectionLost as Schema & { items: Schema };
    delete device.properties.connectionLost;
    device.required = device.required.map((k) => (k === 'connectionLost' ? 'lost' : k));
    const errors = await compile(renamed as unknown as OpenAPI3);
    expect(errors.join('\n')).toMatch(/Property 'connectionLost' does not exist/);
  });
});
