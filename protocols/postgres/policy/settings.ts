import type { Access } from '../../../src/policy/access.js';
import { isLexicalSetting, isPinnedValue } from './lexical-state.js';

/** Custom settings the gateway sets on every upstream session; no client may set or change them. */
export const IDENTITY_SETTING_PREFIX = 'idgate.';

/** Settings that decide who the session is or what it may do. */
const PRIVILEGED = new Set(['role', 'session_authorization', 'session_replication_role']);
const READ_ONLY = new Set(['default_transaction_read_only', 'transaction_read_only']);

/** How a statement changes a setting: to a value (undefined when not a constant), or back to its session default. */
export type SettingChange = { readonly to: 'value'; readonly value: string | undefined } | { readonly to: 'default' };

/**
 * What changing `name` this way needs. The session defaults are what the gateway sent at login
 * (the pinned search_path, lexical settings and read-only mode), so a reset returns to them.
 */
export function settingAccess(rawName: string, change: SettingChange, verb: string, managed: ReadonlySet<string>): Access[] {
  const name = rawName.toLowerCase();
  // A reset returns to the value the gateway set at login, so only a new value is refused.
  if ((name.startsWith(IDENTITY_SETTING_PREFIX) || managed.has(name)) && change.to === 'value') {
    return [
      {
        kind: 'unchecked',
        what: `${verb === 'SET' ? 'SET' : 'set_config() of'} ${name} (the gateway sets it for this session: the agent's identity and limits)`,
      },
    ];
  }
  if (PRIVILEGED.has(name)) {
    return [{ kind: 'unchecked', what: verb === 'SET' ? `SET ${name.toUpperCase()}` : `${verb}() of the security setting ${name}` }];
  }
  if (isLexicalSetting(name)) {
    if (change.to === 'default' || (change.value !== undefined && isPinnedValue(name, change.value))) return [];
    return [
      {
        kind: 'unsupported',
        what: `${verb} ${name} to ${change.value === undefined ? 'a computed value' : `'${change.value}'`} (statements are analysed with client_encoding UTF8 and standard_conforming_strings on)`,
      },
    ];
  }
  if (name === 'search_path') return [{ kind: 'search-path' }];
  // A reset of transaction_read_only does not return to the login's value: any reset counts as switching read-only off.
  if (READ_ONLY.has(name)) return change.to === 'value' && change.value !== undefined && isOn(change.value) ? [] : [{ kind: 'read-write' }];
  return [];
}

export function isOn(value: string): boolean {
  return ['1', 'true', 'on', 'yes', 't', 'y'].includes(value.toLowerCase());
}

export function isOff(value: string): boolean {
  return ['0', 'false', 'off', 'no', 'f', 'n'].includes(value.toLowerCase());
}
