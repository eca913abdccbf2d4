/** What the writer thread tells the main thread. */
export type WriterReport =
  | { readonly type: 'ready' }
  | { readonly type: 'ack'; readonly commands: number }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'recovered' }
  | { readonly type: 'orphaned'; readonly events: number }
  | { readonly type: 'lost'; readonly sessions: number };
