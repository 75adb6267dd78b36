/** Reading fleet and scenario files, and where the shipped examples live (works from src/ and dist/). */
import { readFile } from 'node:fs/promises';
import { type Fleet, validateFleet } from './fleet.js';
import { type Scenario, validateScenario } from './scenario.js';

/** `fleets/demo.json`: the 5 demo devices around Colombo. */
export const demoFleetUrl = new URL('../fleets/demo.json', import.meta.url);
/** `fleets/demo.csv`: the same fleet in the registry's CSV import format. */
export const demoFleetCsvUrl = new URL('../fleets/demo.csv', import.meta.url);

/** A shipped example scenario: `demo-day`, `regional-blackout`, `line-lost-restored`, … */
export function exampleScenarioUrl(name: string): URL {
  return new URL(`../scenarios/${name}.json`, import.meta.url);
}

async function readJson(path: string | URL): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SyntaxError(`${String(path)}: ${(err as Error).message}`);
  }
}

export async function readFleetFile(path: string | URL): Promise<Fleet> {
  return validateFleet(await readJson(path));
}

/** With `fleet`, device names and regions in targets must exist in it. */
export async function readScenarioFile(path: string | URL, fleet?: Fleet): Promise<Scenario> {
  const known = fleet && {
    devices: new Set(fleet.devices.map((d) => d.name)),
    regions: new Set(fleet.devices.map((d) => d.region)),
  };
  return validateScenario(await readJson(path), known);
}
