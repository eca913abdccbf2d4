/** An identity as the review report lists it. */
export interface ReportRow {
  readonly name: string;
  readonly appId: string;
  readonly entries: string;
  readonly lastLogin: string;
  readonly sessions: number;
  readonly flags: readonly string[];
  readonly overScoped: readonly { readonly connection: string; readonly granted: string; readonly used: string }[];
}

const FINDINGS: readonly [flag: string, title: string, why: string][] = [
  [
    'disabled',
    'Disabled in Entra, still listed',
    'Remove them from the mapped groups and app roles: they are disabled, but one re-enable away from access.',
  ],
  ['unused', 'Unused', 'Admitted, but no login in the window: the first candidates to disable.'],
  ['shared', 'Shared', 'Used under several client labels or from several hosts at once: one identity per agent.'],
  ['over-scoped', 'Over-scoped', 'Granted more than they used: narrow each entry to the scope shown.'],
];

/** A Markdown report a security review can attach: the findings first, then every identity. */
export function identitiesMarkdown(rows: readonly ReportRow[], window: string, generatedAt: string): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const out = [
    `# Agent identities with access through idgate`,
    '',
    `Generated ${generatedAt}; window ${window}. ${rows.length} identities can reach a connection.`,
    '',
  ];
  for (const [flag, title, why] of FINDINGS) {
    const hits = rows.filter((r) => r.flags.includes(flag));
    out.push(`## ${title} (${hits.length})`, '', why, '');
    if (hits.length === 0) {
      out.push('None.', '');
      continue;
    }
    if (flag === 'over-scoped') {
      out.push('| identity | app id | connection | granted | used (suggested scope) |', '|---|---|---|---|---|');
      for (const r of hits) {
        for (const o of r.overScoped) {
          out.push(
            `| ${cell(r.name)} | ${r.appId} | ${cell(o.connection)} | \`${cell(o.granted)}\` | \`${cell(o.used || '(nothing)')}\` |`,
          );
        }
      }
    } else {
      out.push('| identity | app id | entries | last login |', '|---|---|---|---|');
      for (const r of hits) out.push(`| ${cell(r.name)} | ${r.appId} | ${cell(r.entries)} | ${r.lastLogin} |`);
    }
    out.push('');
  }
  out.push('## Every identity', '', '| identity | app id | entries | last login | sessions | flags |', '|---|---|---|---|---|---|');
  for (const r of rows) {
    out.push(`| ${cell(r.name)} | ${r.appId} | ${cell(r.entries)} | ${r.lastLogin} | ${r.sessions} | ${r.flags.join(', ')} |`);
  }
  return `${out.join('\n')}\n`;
}
