/**
 * A stored event's JSON body (the gateway's own events, CancelRequest). A body that is not a JSON
 * object — a log edited under the gateway, which `verify` reports — reads as `{ unreadable }` with
 * its size, so `show` and `replay` print what is there instead of failing on it.
 */
export function eventBody(body: Buffer): Record<string, unknown> {
  try {
    const data: unknown = JSON.parse(body.toString('utf8'));
    if (typeof data === 'object' && data !== null && !Array.isArray(data)) return data as Record<string, unknown>;
  } catch {
    // Read as unreadable below.
  }
  return { unreadable: `${body.length} bytes that are not a JSON object` };
}
