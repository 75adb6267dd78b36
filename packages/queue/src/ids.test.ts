import { describe, expect, it } from 'vitest';
import { newMessageId, receivedAtOfMessageId } from './ids.js';

describe('message ids', () => {
  it('carry the receive time, and other ids read as unknown', () => {
    const before = Date.now();
    const id = newMessageId();
    const at = receivedAtOfMessageId(id);
    expect(at).not.toBeNull();
    expect(at as number).toBeGreaterThanOrEqual(before);
    expect(at as number).toBeLessThanOrEqual(Date.now());
    expect(receivedAtOfMessageId('fixture-msg-1')).toBeNull();
    expect(newMessageId() > id).toBe(true);
  });
});
