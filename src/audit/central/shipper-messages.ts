/** What the main thread asks of the shipper thread. */
export type ShipperRequest = { readonly type: 'stop' };

/** What the shipper thread reports; `backlog` is the outbox rows still to ship. */
export type ShipperReport =
  | { readonly type: 'shipped'; readonly rows: number; readonly backlog: number }
  | { readonly type: 'idle'; readonly backlog: number }
  | { readonly type: 'unavailable'; readonly message: string; readonly backlog: number }
  /** The central store already held other rows at keys this shipment carried (tampering there): never overwritten. */
  | { readonly type: 'conflict'; readonly conflicts: readonly string[] }
  | { readonly type: 'stopped' };
