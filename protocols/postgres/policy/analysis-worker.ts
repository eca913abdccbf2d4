import { parentPort } from 'node:worker_threads';
import { parseScope } from '../../../src/config/scope.js';
import { decide, rejected, type Verdict } from './decision-cache.js';
import { sqlParserFor } from './sql-parser.js';
import { shadowsFromLists } from './shadowed-builtins.js';
import type { AnalysisRequest, AnalysisReply } from './off-thread-analysis.js';

/**
 * The thread that judges large statements, so parsing them (about 0.5 ms per KB) never stalls the
 * relay thread and every other session with it. The same decide() as on the relay thread: the
 * verdict cannot differ.
 */
parentPort?.on('message', (request: AnalysisRequest) => {
  void judge(request).then((verdict) => {
    const reply: AnalysisReply = { id: request.id, verdict };
    parentPort?.postMessage(reply);
  });
});

async function judge(request: AnalysisRequest): Promise<Verdict> {
  try {
    const parser = await sqlParserFor(request.major);
    if (parser === undefined) return { allowed: false, sqlstate: '0A000', message: `no parser for PostgreSQL ${request.major}` };
    const scope = parseScope(request.scope, request.schema);
    return decide(
      scope,
      {
        parser,
        schema: request.schema,
        asciiNamesOnly: request.asciiNamesOnly,
        managedSettings: new Set(request.managedSettings),
        shadowed: shadowsFromLists(request.shadowed),
      },
      request.sql,
    );
  } catch (e) {
    return rejected(e);
  }
}
