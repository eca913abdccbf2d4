import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { interpretStartupParameters } from '../../../../protocols/postgres/client/startup-parameters.js';

describe('a startup packet’s settings', () => {
  it('lists them in the order the server applies them: options first, then the packet’s own, which win', () => {
    const asked = interpretStartupParameters(
      new Map([
        ['user', 'agent'],
        ['DateStyle', 'ISO, MDY'],
        ['options', '-c DateStyle=ISO,DMY -c TimeZone=UTC'],
        ['application_name', 'x'],
      ]),
    );
    assert.deepEqual(asked.settings, [
      ['datestyle', 'ISO,DMY'],
      ['timezone', 'UTC'],
      ['datestyle', 'ISO, MDY'],
      ['application_name', 'x'],
    ]);
    assert.equal(asked.settings.filter(([name]) => name === 'datestyle').at(-1)?.[1], 'ISO, MDY', 'the last is what the session has');
  });
});
