import type { EntraApprovers } from '../approvals/entra-approvers.js';
import type { ApprovalRegistry } from '../approvals/approval-registry.js';
import { approvalView } from './approval-view.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { GatewayConfig } from '../config/gateway-config.js';
import type { SigningKeys } from '../identity/signing-keys.js';
import type { ProtocolServer } from '../protocol.js';
import type { SessionRegistry } from '../session/session-registry.js';
import type { AdminBackend, ReadinessCheck } from './admin-backend.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { sessionView, type SessionView } from './session-view.js';

export interface LocalAdminParts {
  readonly config: () => GatewayConfig;
  readonly metrics: GatewayMetrics;
  readonly sessions: SessionRegistry;
  readonly audit: AuditLog;
  readonly signingKeys: SigningKeys;
  readonly server: ProtocolServer;
  readonly approvals: ApprovalRegistry;
  /** `approvals.approver-groups`, when set: people who decide with their own Entra token. */
  readonly approvers?: EntraApprovers;
}

/** The admin endpoint's answers for this one gateway process. */
export function localAdmin(parts: LocalAdminParts): AdminBackend {
  return {
    metrics: async () => ({ contentType: parts.metrics.contentType, text: await parts.metrics.text() }),
    readiness: () => readiness(parts),
    sessions: () => Promise.resolve(parts.sessions.list().map((s): SessionView => sessionView(s, parts.config().nodeId))),
    terminate: (id, requester) => {
      const session = parts.sessions.get(id);
      if (session === undefined) return Promise.resolve(false);
      session.end(
        'admin-terminated',
        'terminating connection due to administrator command (the gateway’s operator ended this session)',
        requester,
      );
      return Promise.resolve(true);
    },
    approvals: () => Promise.resolve(parts.approvals.list().map((r) => approvalView(r, parts.config().nodeId))),
    decide: (id, answer) => {
      if (parts.approvals.get(id) === undefined) return Promise.resolve(undefined);
      const request = parts.approvals.decide(id, answer);
      parts.metrics.approval(answer.approve ? 'approved' : 'refused');
      if (request.state !== 'pending') parts.metrics.approvalDecided((Date.now() - request.requestedAtMs) / 1000);
      return Promise.resolve(approvalView(request, parts.config().nodeId));
    },
  };
}

/** Signing keys in hand, the audit log writable, every upstream reachable: checked together, each named. */
async function readiness(parts: LocalAdminParts): Promise<ReadinessCheck[]> {
  const connections = [...parts.config().connections.values()];
  const [keys, audit, ...upstreams] = await Promise.all([
    signingKeysCheck(parts.signingKeys),
    parts.audit.probe().then((problem) => check('audit-log', problem)),
    ...connections.map((c) => parts.server.reachUpstream(c).then((problem) => check(`upstream:${c.name}`, problem))),
  ]);
  return [keys, audit, ...upstreams];
}

async function signingKeysCheck(keys: SigningKeys): Promise<ReadinessCheck> {
  if (!keys.loaded) await keys.refresh().catch(() => undefined);
  return check('signing-keys', keys.loaded ? undefined : "the tenant's signing keys could not be fetched");
}

function check(name: string, problem: string | undefined): ReadinessCheck {
  return problem === undefined ? { name, ok: true } : { name, ok: false, detail: problem };
}
