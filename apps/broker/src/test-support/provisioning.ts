/** Test-only: one ThingsBoard MQTT provisioning exchange against a harness's gateway. */
import { expect } from 'vitest';
import type { Harness } from './harness.js';

/** Opens a provisioning session, sends `body`, and returns the answer. */
export async function provisionOverMqtt(
  h: Harness,
  body: Record<string, unknown> | string,
): Promise<Record<string, unknown>> {
  const c = await h.connect({ clientId: `prov-${Math.random().toString(36).slice(2)}`, username: 'provision' });
  try {
    const granted = await c.subscribeAsync('/provision/response', { qos: 1 });
    expect(granted[0]?.qos).toBe(1);
    const answer = new Promise<Record<string, unknown>>((resolve) =>
      c.once('message', (topic, payload) => {
        expect(topic).toBe('/provision/response');
        resolve(JSON.parse(payload.toString()));
      }),
    );
    await c.publishAsync('/provision/request', typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 });
    return await answer;
  } finally {
    await c.endAsync(true);
  }
}
