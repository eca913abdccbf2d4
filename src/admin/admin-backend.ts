import type { Requester } from '../session/session-registry.js';
import type { SessionView } from './session-view.js';

export interface ReadinessCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail?: string;
}

/**
 * What the admin endpoint serves, whoever holds it: one gateway process answers for itself; the
 * primary of `listen.workers` answers for all its workers.
 */
export interface AdminBackend {
  metrics(): Promise<{ readonly contentType: string; readonly text: string }>;
  readiness(): Promise<readonly ReadinessCheck[]>;
  sessions(): Promise<readonly SessionView[]>;
  /** Ends the session with `admin-terminated`; false when no such session is live here. */
  terminate(id: string, requester: Requester): Promise<boolean>;
}
