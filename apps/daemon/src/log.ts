/**
 * Log lines with a rate limit per kind: a flood of one event (a send that fails for every
 * datagram, a client reconnecting in a loop) gives a few lines and then one count, not one line
 * per event. README "Logs" documents the bound.
 */
import type { Logger } from "@tipcjs/node";

export interface RateLimitOptions {
  /** lines of one kind passed per window (default 10) */
  perWindow?: number;
  /** the window, in ms (default 10,000) */
  windowMs?: number;
  /** kinds tracked at once; the oldest is forgotten past it (default 1024) */
  maxKinds?: number;
  /** the clock (default Date.now); tests pass a virtual one */
  now?: () => number;
  /** flush counts on a timer of windowMs (default true; tests call flush()) */
  timer?: boolean;
}

export interface RateLimitedLogger extends Logger {
  /** Logs "repeated K times" for every kind whose window has ended with lines held back. */
  flush(): void;
  /** Stops the timer and flushes every count, ended window or not. */
  close(): void;
}

type Level = "debug" | "info" | "warn" | "error";

interface Kind {
  level: Level;
  msg: string;
  fields: Record<string, unknown>;
  windowStart: number;
  passed: number;
  suppressed: number;
}

export const LOG_RATE_LIMIT = { perWindow: 10, windowMs: 10_000 } as const;

/** A line's kind: its level, its message and an error code if it has one. */
function kindKey(level: Level, obj: object, msg: string | undefined): string {
  const o = obj as { code?: unknown; err?: { code?: unknown } };
  const code = o.code ?? o.err?.code;
  return `${level}\u0000${msg ?? ""}\u0000${typeof code === "string" || typeof code === "number" ? code : ""}`;
}

export function rateLimitLogger(inner: Logger, options: RateLimitOptions = {}): RateLimitedLogger {
  const perWindow = options.perWindow ?? LOG_RATE_LIMIT.perWindow;
  const windowMs = options.windowMs ?? LOG_RATE_LIMIT.windowMs;
  const maxKinds = options.maxKinds ?? 1024;
  const now = options.now ?? Date.now;
  const kinds = new Map<string, Kind>();

  const report = (k: Kind) => {
    if (k.suppressed === 0) return;
    inner[k.level](
      { ...k.fields, repeated: k.suppressed, windowMs },
      `${k.msg} (repeated ${k.suppressed} times)`,
    );
    k.suppressed = 0;
  };

  const enabled = (inner as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled;
  const log = (level: Level) => (obj: object, msg?: string) => {
    // a line the level hides takes no share of its kind's budget (pino's isLevelEnabled)
    if (enabled !== undefined && !enabled.call(inner, level)) return;
    const key = kindKey(level, obj, msg);
    const t = now();
    let k = kinds.get(key);
    if (k && t - k.windowStart >= windowMs) {
      report(k);
      k.windowStart = t;
      k.passed = 0;
    }
    if (!k) {
      if (kinds.size >= maxKinds) {
        const oldest = kinds.keys().next().value as string;
        report(kinds.get(oldest) as Kind);
        kinds.delete(oldest);
      }
      k = { level, msg: msg ?? "", fields: {}, windowStart: t, passed: 0, suppressed: 0 };
      kinds.set(key, k);
    }
    if (k.passed < perWindow) {
      k.passed++;
      inner[level](obj, msg);
    } else {
      // the count line carries the plain fields of the last line held back (no error objects)
      if (k.suppressed === 0) k.fields = plainFields(obj);
      k.suppressed++;
    }
  };

  const flush = (all = false) => {
    const t = now();
    for (const [key, k] of kinds) {
      if (!all && t - k.windowStart < windowMs) continue;
      report(k);
      kinds.delete(key); // an ended window with nothing held needs no memory
    }
  };

  const timer = options.timer === false ? undefined : setInterval(() => flush(), windowMs);
  timer?.unref();

  return {
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    flush: () => flush(),
    close: () => {
      if (timer) clearInterval(timer);
      flush(true);
    },
  };
}

function plainFields(obj: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === null || ["string", "number", "boolean"].includes(typeof v)) out[k] = v;
  }
  return out;
}
