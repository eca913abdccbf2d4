import { listOf } from '../../../src/json-value.js';

/**
 * The event that opens a recorded session: the startup parameters its upstream login sent (the
 * client's settings, the gateway's identity settings and limits, the pinned search path) — what
 * decides how the server read every statement after it (a date day-first, the schema of an
 * unqualified table). `show` prints it; `replay --execute` logs in to its target with it.
 */
export const UPSTREAM_LOGIN = 'UpstreamLogin';

export function upstreamLoginData(parameters: ReadonlyMap<string, string>): { parameters: [string, string][] } {
  return { parameters: [...parameters] };
}

/** The parameters an UpstreamLogin event holds, in order (pairs that are not two strings are left out). */
export function upstreamLoginParameters(data: Readonly<Record<string, unknown>>): [string, string][] {
  return listOf(data['parameters']).flatMap((pair) => {
    const [name, value] = listOf(pair);
    return typeof name === 'string' && typeof value === 'string' ? [[name, value] as [string, string]] : [];
  });
}

/** One line for a transcript: `DateStyle=ISO, DMY; search_path=app; …`. */
export function upstreamLoginText(data: Readonly<Record<string, unknown>>): string {
  return upstreamLoginParameters(data)
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');
}
