import { Injectable } from '@nestjs/common';
import type { BetaEndReason } from './beta-session.schema.js';

export type BetaSessionSignal =
  | { type: 'credits'; sessionId: string; remainingCredits: number; sessionCharged: number }
  | { type: 'credit_warning'; sessionId: string; remainingCredits: number; thresholdPercent: number }
  | { type: 'ended'; sessionId: string; reason: BetaEndReason; remainingCredits: number; sessionCharged: number };

export type BetaSessionListener = (signal: BetaSessionSignal) => void;

/** In-process delivery of a session's credit signals to whoever serves it (the gateway's socket). */
@Injectable()
export class BetaSessionSignals {
  private readonly listeners = new Map<string, Set<BetaSessionListener>>();

  subscribe(sessionId: string, listener: BetaSessionListener): () => void {
    const set = this.listeners.get(sessionId) ?? new Set();
    set.add(listener);
    this.listeners.set(sessionId, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) {
        this.listeners.delete(sessionId);
      }
    };
  }

  emit(signal: BetaSessionSignal): void {
    for (const listener of [...(this.listeners.get(signal.sessionId) ?? [])]) {
      listener(signal);
    }
  }
}
