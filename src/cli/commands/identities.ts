import type { CommandModule } from 'yargs';
import { nowMicros } from '../../audit/audit-event.js';
import { loadConfigFile, READ_ONLY } from '../../config/load-config.js';
import { createEntraServices } from '../../identity/entra-services.js';
import { resolveGroupNames } from '../../identity/resolve-group-names.js';
import { createLogger } from '../../logging/logger.js';
import { listedIdentities, type ListedIdentity } from '../../policy/identities.js';
import { sharedIdentities } from '../../policy/shared-use.js';
import { entryName } from '../../policy/entry-name.js';
import { usageSince, type EntryUsage } from '../entry-usage.js';
import { identitiesMarkdown, type ReportRow } from '../identities-report.js';
import { isoFromUs, table } from '../format.js';
import { parseDurationUs, parseInstantUs } from '../parse-time.js';
import { dbOptions, openAudit } from '../options/db-option.js';
import { errorMessage, UsageError } from '../../idgate-error.js';
import type { WireProtocol } from '../../protocol.js';
import { err, out } from '../output.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface IdentitiesArgs {
  readonly db?: string | undefined;
  readonly config: string;
  readonly unused: string;
  readonly shared: string;
  readonly json: boolean;
  readonly markdown: boolean;
}

interface Census {
  readonly listed: ListedIdentity;
  readonly lastLoginUs: number | undefined;
  readonly sessions: number;
  readonly flags: string[];
  /** Entries whose grant is wider than what ran in the window, with the narrowest scope that would have done. */
  readonly overScoped: readonly EntryUsage[];
}

export function identitiesCommand(protocol: WireProtocol): CommandModule<object, IdentitiesArgs> {
  return {
    ...COMMAND_SUMMARIES.identities,
    builder: (y) =>
      y
        .options(dbOptions)
        .option('unused', {
          type: 'string',
          default: '30d',
          describe: 'flag an enabled identity with no login for this long (a duration); also the window for sessions',
        })
        .option('shared', {
          type: 'string',
          default: '5m',
          describe: 'flag an identity used under two client labels or from two hosts at once or within this gap',
        })
        .option('json', { type: 'boolean', default: false, describe: 'one JSON object per line' })
        .option('markdown', { type: 'boolean', default: false, describe: 'a report a security review can attach' }),
    handler: async (args) => {
      const file = loadConfigFile(args.config, process.env, READ_ONLY);
      const listed = await listFromGraph(file);
      if (listed === undefined) return;
      const now = nowMicros();
      printCensus(args, await takeCensus(protocol, args, listed, now), now);
    },
  };
}

/** Everyone the identity-map lets in, from Graph; undefined (the exit code set) when Graph is not configured or did not answer in full. */
async function listFromGraph(file: ReturnType<typeof loadConfigFile>): Promise<ListedIdentity[] | undefined> {
  const entra = await createEntraServices(file.entra, createLogger('silent'));
  try {
    if (entra.graph === undefined) {
      err('idgate identities needs entra.graph: who can log in is in the tenant\n');
      process.exitCode = 2;
      return undefined;
    }
    return await listedIdentities(await resolveGroupNames(file, entra.graph), entra.graph);
  } catch (e) {
    err(`idgate identities: Graph could not answer in full (${errorMessage(e)}); nothing is reported rather than a partial list\n`);
    process.exitCode = 1;
    return undefined;
  } finally {
    entra.close();
  }
}

/** Each listed identity beside the audit log: its last login, its sessions in the window, and its flags. */
async function takeCensus(protocol: WireProtocol, args: IdentitiesArgs, listed: readonly ListedIdentity[], now: number): Promise<Census[]> {
  const since = parseInstantUs(args.unused, now);
  const gap = parseDurationUs(args.shared);
  if (gap === undefined) throw new UsageError('bad-argument', `--shared ${args.shared}: not a duration (5m, 1h)`);
  const { reader, close } = await openAudit(args, { kind: 'all' });
  try {
    const usage = await usageSince(protocol, reader, since, args.config);
    const lastLogin = new Map<string, number>();
    for (const l of reader.logins()) {
      if (l.accepted === 1 && l.identity_oid !== null) lastLogin.set(l.identity_oid, Math.max(lastLogin.get(l.identity_oid) ?? 0, l.at_us));
    }
    const sessions = new Map<string, number>();
    const inWindow = reader.sessions({ sinceUs: since });
    for (const s of inWindow) sessions.set(s.identity_oid, (sessions.get(s.identity_oid) ?? 0) + 1);
    const shared = sharedIdentities(inWindow, gap, now);
    return listed.map((l) => {
      const last = lastLogin.get(l.principal.objectId);
      const flags = [];
      if (!l.principal.accountEnabled) flags.push('disabled');
      else if (last === undefined || last < since) flags.push('unused');
      if (shared.has(l.principal.objectId)) flags.push('shared');
      const overScoped = usage.filter((u) => u.appId === l.principal.appId && u.overScoped);
      if (overScoped.length > 0) flags.push('over-scoped');
      return { listed: l, lastLoginUs: last, sessions: sessions.get(l.principal.objectId) ?? 0, flags, overScoped };
    });
  } finally {
    close();
  }
}

function printCensus(args: IdentitiesArgs, census: readonly Census[], now: number): void {
  if (args.json) {
    for (const c of census) out(`${JSON.stringify(censusJson(c))}\n`);
    return;
  }
  if (args.markdown) {
    out(identitiesMarkdown(census.map(reportRow), `${args.unused} (shared within ${args.shared})`, new Date(now / 1000).toISOString()));
    return;
  }
  out(
    `${table(
      ['identity', 'app id', 'entries', 'last login', `sessions (${args.unused})`, 'flags'],
      census.map((c) => [
        c.listed.principal.displayName ?? c.listed.principal.objectId,
        c.listed.principal.appId,
        c.listed.entries.map((r) => `${entryName(r)} → ${r.connection}`).join(', '),
        c.lastLoginUs === undefined ? 'never' : isoFromUs(c.lastLoginUs),
        String(c.sessions),
        [
          ...c.flags.filter((f) => f !== 'over-scoped'),
          ...c.overScoped.map((u) => `over-scoped: ${u.granted} → ${u.used || 'nothing'}`),
        ].join(', '),
      ]),
    )}\n`,
  );
}

function reportRow(c: Census): ReportRow {
  const p = c.listed.principal;
  return {
    name: p.displayName ?? p.objectId,
    appId: p.appId,
    entries: c.listed.entries.map((r) => `${entryName(r)} → ${r.connection} (${r.scope})`).join(', '),
    lastLogin: c.lastLoginUs === undefined ? 'never' : isoFromUs(c.lastLoginUs),
    sessions: c.sessions,
    flags: c.flags,
    overScoped: c.overScoped.map((u) => ({ connection: u.connection, granted: u.granted, used: u.used })),
  };
}

function censusJson(c: Census): Record<string, unknown> {
  const p = c.listed.principal;
  return {
    objectId: p.objectId,
    appId: p.appId,
    displayName: p.displayName ?? null,
    enabled: p.accountEnabled,
    entries: c.listed.entries.map((r) => ({
      entry: entryName(r),
      connection: r.connection,
      scope: r.scope,
      via: r.match.kind === 'entra-group' ? { group: r.match.groupId } : { appRole: r.match.role },
    })),
    lastLogin: c.lastLoginUs === undefined ? null : isoFromUs(c.lastLoginUs),
    sessions: c.sessions,
    flags: c.flags,
    overScoped: c.overScoped.map((u) => ({
      connection: u.connection,
      mapping: u.mapping,
      granted: u.granted,
      used: u.used,
      suggestion: u.used,
    })),
  };
}
