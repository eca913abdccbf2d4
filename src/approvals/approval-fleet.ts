import type { ApprovalPin, ApprovalRegistry, ApprovalRequest } from './approval-registry.js';

/**
 * The gateway's other worker processes (`listen.workers`), as approvals see them. An agent's next
 * connection may land on any worker, so a statement this worker holds nothing for is looked up in
 * the others before it becomes a new request: the same statement keeps its one request across the
 * workers, and its approval runs it once wherever the agent sends it again.
 */
export interface ApprovalFleet {
  /**
   * Where the pinned statement stands in the other workers: an approval found there is taken for
   * `sessionId` (it is used there from now on), a pending or refused request is only reported.
   * Undefined when none holds it.
   */
  claim(pin: ApprovalPin, sessionId: string): Promise<ApprovalRequest | undefined>;
}

/** How a worker joins its registry to its siblings': it answers their lookups and hears their answers. */
export interface ApprovalSiblings {
  join(registry: ApprovalRegistry): ApprovalFleet;
}
