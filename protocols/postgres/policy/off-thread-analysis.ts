import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../../../src/audit/start-writer-worker.js';
import type { Scope } from '../../../src/config/scope.js';
import type { AnalysisContext } from './analysis-context.js';
import type { Verdict } from './decision-cache.js';
import { shadowLists, type ShadowLists } from './shadowed-builtins.js';

/** Statements this long or longer are judged on the analysis thread (below it, parsing takes under ~8 ms). */
export const OFF_THREAD_CHARS = 16 * 1024;

export interface AnalysisRequest {
  readonly id: number;
  readonly major: number;
  readonly schema: string;
  readonly asciiNamesOnly: boolean;
  readonly managedSettings: readonly string[];
  readonly shadowed: ShadowLists;
  readonly scope: string;
  readonly sql: string;
}

export interface AnalysisReply {
  readonly id: number;
  readonly verdict: Verdict;
}

const FAILED: Verdict = { allowed: false, sqlstate: '42601', message: 'the gateway could not analyse this statement' };

/**
 * One analysis thread per gateway process, started on first use and kept (unref'd: it never holds
 * the process open). Requests are answered in order. If the thread dies, what it was judging is
 * refused (fail closed) and the next request starts a new one.
 */
export class AnalysisThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, (verdict: Verdict) => void>();

  judge(scope: Scope, context: AnalysisContext, sql: string): Promise<Verdict> {
    const worker = this.started();
    const id = this.nextId++;
    const request: AnalysisRequest = {
      id,
      major: context.parser.major,
      schema: context.schema,
      asciiNamesOnly: context.asciiNamesOnly,
      managedSettings: [...context.managedSettings],
      shadowed: shadowLists(context.shadowed),
      scope: scope.text,
      sql,
    };
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      if (this.waiting.size === 1) worker.ref();
      worker.postMessage(request);
    });
  }

  /** Ends the thread: what it was judging is refused, and the next request starts a new one. */
  async stop(): Promise<void> {
    await this.worker?.terminate();
  }

  private started(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = startModuleWorker(new URL('./analysis-worker', import.meta.url), undefined);
    worker.unref();
    worker.on('message', (reply: AnalysisReply) => this.settle(reply.id, reply.verdict));
    const fail = (): void => {
      if (this.worker === worker) this.worker = undefined;
      for (const id of [...this.waiting.keys()]) this.settle(id, FAILED);
    };
    worker.on('error', fail);
    worker.on('exit', fail);
    this.worker = worker;
    return worker;
  }

  private settle(id: number, verdict: Verdict): void {
    const resolve = this.waiting.get(id);
    this.waiting.delete(id);
    // Only a thread with questions outstanding keeps the process alive.
    if (this.waiting.size === 0) this.worker?.unref();
    resolve?.(verdict);
  }
}

const thread = new AnalysisThread();

/** A statement's verdict from the analysis thread. */
export function judgeOffThread(scope: Scope, context: AnalysisContext, sql: string): Promise<Verdict> {
  return thread.judge(scope, context, sql);
}
