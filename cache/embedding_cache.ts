/**
 * A persistent embedding cache in one SQLite file, shared safely by several
 * processes.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { now } from "../internal/clock.ts";
import { CacheFileError } from "./file_error.ts";

/** `PRAGMA application_id` of an embatch cache: "EMBC" in ASCII. */
const APPLICATION_ID = 0x454d4243;
/** `PRAGMA user_version`: the schema version this code reads and writes. */
const SCHEMA_VERSION = 1;
/**
 * Bytes counted per entry on top of its vector towards `maxSize`: the 32-byte
 * key (in the row and in its index), the written and last-used times, and the
 * rows' own overhead.
 *
 * @example An entry of 768 float32 values counts 3,168 bytes
 * ```ts
 * import { ENTRY_OVERHEAD_BYTES } from "./embedding_cache.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(768 * 4 + ENTRY_OVERHEAD_BYTES, 3168);
 * ```
 */
export const ENTRY_OVERHEAD_BYTES = 96;
/**
 * SQLite page size of a new file: 16 KiB holds five 768-value vectors (with
 * 4 KiB pages, each 3 KiB vector would take a page of its own).
 */
const PAGE_SIZE = 16384;
/** Hits whose last-used time is written back at once, at most, before a flush. */
const MAX_PENDING_TOUCHES = 4096;

// The last-used times live in a narrow table of their own: updating them on
// reads then rewrites small pages, not the pages of the vectors.
const SCHEMA = `
CREATE TABLE entries (
  id INTEGER PRIMARY KEY,      -- in order of writing: new rows fill pages at the end
  key BLOB NOT NULL UNIQUE,    -- the 32-byte key
  vector BLOB NOT NULL,        -- float32 values in the platform's (little-endian) order
  written_at INTEGER NOT NULL  -- ms since the epoch
);
CREATE TABLE usage (
  id INTEGER PRIMARY KEY,      -- the entry's id
  used_at INTEGER NOT NULL     -- ms since the epoch, for least-recently-used eviction
);
CREATE INDEX usage_used_at ON usage (used_at);
CREATE TABLE totals (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  entries INTEGER NOT NULL,
  bytes INTEGER NOT NULL
);
INSERT INTO totals VALUES (1, 0, 0);
CREATE TRIGGER entries_insert AFTER INSERT ON entries BEGIN
  UPDATE totals SET entries = entries + 1,
    bytes = bytes + length(NEW.vector) + ${ENTRY_OVERHEAD_BYTES};
  INSERT OR REPLACE INTO usage VALUES (NEW.id, NEW.written_at);
END;
CREATE TRIGGER entries_delete AFTER DELETE ON entries BEGIN
  UPDATE totals SET entries = entries - 1,
    bytes = bytes - length(OLD.vector) - ${ENTRY_OVERHEAD_BYTES};
  DELETE FROM usage WHERE id = OLD.id;
END;
CREATE TRIGGER entries_update AFTER UPDATE OF vector ON entries BEGIN
  UPDATE totals SET bytes = bytes + length(NEW.vector) - length(OLD.vector);
  UPDATE usage SET used_at = NEW.written_at WHERE id = NEW.id;
END;
PRAGMA application_id = ${APPLICATION_ID};
PRAGMA user_version = ${SCHEMA_VERSION};
`;

/** Options of {@linkcode EmbeddingCache}. */
export interface EmbeddingCacheOptions {
  /**
   * The most bytes the entries may take, counted as each vector's bytes plus
   * {@linkcode ENTRY_OVERHEAD_BYTES}; past it, the least recently used
   * entries are deleted as new ones are written. The file itself is somewhat
   * larger (SQLite pages are not full) and does not shrink: freed pages are
   * reused. Unset: no bound.
   *
   * @default {undefined}
   */
  maxSize?: number;
  /**
   * How long to wait for another process's write to finish before failing,
   * in milliseconds.
   *
   * @default {10000}
   */
  busyTimeout?: number;
  /**
   * The resolution of the last-used times, in milliseconds: a hit on an entry
   * used less than this long ago does not write its time again. Least
   * recently used is therefore judged to within this much; the larger it is,
   * the fewer writes a run of hits makes.
   *
   * @default {3600000}
   */
  touchInterval?: number;
}

/** One vector to store under its key. */
export interface CacheEntry {
  /** The key, from `cacheKey`. */
  key: Uint8Array;
  /** The vector; stored as float32. */
  vector: ArrayLike<number>;
}

/** What a cache holds, and what this connection did. */
export interface CacheStats {
  /** Entries in the file (all processes'). */
  entries: number;
  /** Bytes the entries take, as counted for `maxSize`. */
  bytes: number;
  /** Keys found by this connection. */
  hits: number;
  /** Keys not found by this connection. */
  misses: number;
  /** Entries written by this connection. */
  written: number;
  /** Entries this connection deleted to stay within `maxSize`. */
  evicted: number;
}

/**
 * A persistent map from cache keys to float32 vectors, in one SQLite file.
 *
 * The file is in WAL mode: any number of processes may read and write it at
 * once; writers take turns (each waits up to `busyTimeout` for the other) and
 * readers are never blocked. Each {@linkcode EmbeddingCache.putMany} is one
 * transaction, so a process killed at any point leaves every earlier batch
 * intact and no half-written one. Reads are batched into one transaction per
 * {@linkcode EmbeddingCache.getMany}; the last-used times of hits are written
 * with the next write (or by {@linkcode EmbeddingCache.flush} and
 * {@linkcode EmbeddingCache.close}), so that reading never waits for a writer.
 *
 * Vectors are stored as float32, about 7 significant digits.
 *
 * @example Storing and finding vectors
 * ```ts
 * import { cacheKey, EmbeddingCache } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * using cache = new EmbeddingCache(`${dir}/cache.sqlite`);
 * const context = { model: "gemini-embedding-001", dimensions: 2 };
 * cache.putMany([{ key: cacheKey(context, "hello"), vector: [0.5, -0.25] }]);
 * const [hello, other] = cache.getMany([cacheKey(context, "hello"), cacheKey(context, "other")]);
 * assert.deepEqual(Array.from(hello!), [0.5, -0.25]);
 * assert.equal(other, undefined);
 * assert.equal(cache.stats().entries, 1);
 * ```
 */
export class EmbeddingCache implements Disposable {
  /** The cache file's path. */
  readonly path: string;
  #db: DatabaseSync;
  #maxSize: number | undefined;
  #touchInterval: number;
  #select: StatementSync;
  #upsert: StatementSync;
  #touch: StatementSync;
  #totals: StatementSync;
  #evict: StatementSync;
  #pendingTouches = new Set<number>();
  #counters = { hits: 0, misses: 0, written: 0, evicted: 0 };
  #closed = false;

  /**
   * Opens the cache at `path`, creating the file if it does not exist.
   *
   * @param path The SQLite file; its directory must exist.
   * @param options The size bound and lock wait.
   * @throws {CacheFileError} If the file is not an embatch cache: not SQLite,
   * another application's database, or another cache format. It is not modified.
   * @throws {RangeError} If `maxSize` or `busyTimeout` is not a non-negative number.
   */
  constructor(path: string, options: EmbeddingCacheOptions = {}) {
    const { maxSize, busyTimeout = 10_000, touchInterval = 3_600_000 } = options;
    if (maxSize !== undefined && !(maxSize >= 0)) {
      throw new RangeError(
        `Cannot open cache: maxSize must be a non-negative number, received ${maxSize}`,
      );
    }
    if (!Number.isInteger(busyTimeout) || busyTimeout < 0) {
      throw new RangeError(
        `Cannot open cache: busyTimeout must be a non-negative integer, received ${busyTimeout}`,
      );
    }
    if (!(touchInterval >= 0)) {
      throw new RangeError(
        `Cannot open cache: touchInterval must be a non-negative number, received ${touchInterval}`,
      );
    }
    this.path = path;
    this.#maxSize = maxSize;
    this.#touchInterval = touchInterval;
    this.#db = new DatabaseSync(path);
    try {
      this.#db.exec(`PRAGMA busy_timeout = ${busyTimeout}`);
      this.#open();
      this.#select = this.#db.prepare(
        `SELECT e.id, e.vector, u.used_at FROM entries e LEFT JOIN usage u ON u.id = e.id
         WHERE e.key = ?`,
      );
      this.#upsert = this.#db.prepare(
        `INSERT INTO entries (key, vector, written_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET vector = excluded.vector, written_at = excluded.written_at`,
      );
      this.#touch = this.#db.prepare("UPDATE usage SET used_at = ? WHERE id = ?");
      this.#totals = this.#db.prepare("SELECT entries, bytes FROM totals");
      this.#evict = this.#db.prepare(
        "DELETE FROM entries WHERE id IN (SELECT id FROM usage ORDER BY used_at, id LIMIT ?)",
      );
    } catch (error) {
      this.#db.close();
      throw this.#wrap(error);
    }
  }

  /** Checks the file is an embatch cache of this format, creating the schema in a new one. */
  #open(): void {
    const db = this.#db;
    const marker = () => ({
      app: Number(db.prepare("PRAGMA application_id").get()!.application_id),
      version: Number(db.prepare("PRAGMA user_version").get()!.user_version),
      tables: Number(db.prepare("SELECT count(*) AS n FROM sqlite_master").get()!.n),
    });
    let found = marker();
    if (found.app === 0 && found.tables === 0) {
      // A new file: create the schema unless another process got there first.
      // The page size applies only before the file's first write.
      db.exec(`PRAGMA page_size = ${PAGE_SIZE}`);
      db.exec("BEGIN IMMEDIATE");
      try {
        found = marker();
        if (found.app === 0 && found.tables === 0) {
          db.exec(SCHEMA);
          found = marker();
        }
        db.exec("COMMIT");
      } catch (error) {
        db.exec("ROLLBACK");
        throw error;
      }
    }
    if (found.app !== APPLICATION_ID) {
      throw new CacheFileError(
        this.path,
        "foreign",
        `it is an SQLite database of another application (application_id ${found.app})`,
      );
    }
    if (found.version !== SCHEMA_VERSION) {
      throw new CacheFileError(
        this.path,
        "version",
        `it is an embatch cache of format ${found.version}, this version reads format ${SCHEMA_VERSION}`,
      );
    }
    db.exec("PRAGMA journal_mode = WAL");
    // Checkpoint every 64 MiB of log rather than 4 MiB: fewer syncs when
    // writing many vectors.
    db.exec(`PRAGMA wal_autocheckpoint = ${(64 * 1024 * 1024) / PAGE_SIZE}`);
    // In WAL mode, NORMAL loses no committed transaction when a process dies;
    // only a power loss can undo the last few.
    db.exec("PRAGMA synchronous = NORMAL");
  }

  /**
   * Looks up vectors by key, in one read transaction.
   *
   * @param keys Keys from `cacheKey`.
   * @returns For each key in order, its vector, or `undefined` when absent.
   * @throws {CacheFileError} If SQLite finds the file damaged.
   *
   * @example Usage
   * ```ts
   * import { cacheKey, EmbeddingCache } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * using cache = new EmbeddingCache(`${await Deno.makeTempDir()}/c.sqlite`);
   * assert.deepEqual(cache.getMany([cacheKey({ model: "m" }, "absent")]), [undefined]);
   * assert.equal(cache.stats().misses, 1);
   * ```
   */
  getMany(keys: readonly Uint8Array[]): (Float32Array | undefined)[] {
    this.#checkOpen("read");
    if (keys.length === 0) return [];
    const vectors: (Float32Array | undefined)[] = [];
    const time = now();
    this.#transaction("BEGIN", () => {
      for (const key of keys) {
        const row = this.#select.get(checkKey(key));
        if (row === undefined) {
          vectors.push(undefined);
          this.#counters.misses++;
          continue;
        }
        vectors.push(toFloat32(row.vector as Uint8Array));
        this.#counters.hits++;
        const usedAt = row.used_at === null ? -Infinity : Number(row.used_at);
        if (time - usedAt >= this.#touchInterval) this.#pendingTouches.add(row.id as number);
      }
    });
    if (this.#pendingTouches.size >= MAX_PENDING_TOUCHES) this.flush();
    return vectors;
  }

  /**
   * Stores vectors, replacing any under the same keys, in one write
   * transaction; then, with `maxSize`, deletes least recently used entries
   * until the cache fits.
   *
   * @param entries The keys and vectors.
   * @throws {CacheFileError} If SQLite finds the file damaged.
   *
   * @example Usage
   * ```ts
   * import { cacheKey, EmbeddingCache } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * using cache = new EmbeddingCache(`${await Deno.makeTempDir()}/c.sqlite`);
   * const key = cacheKey({ model: "m" }, "text");
   * cache.putMany([{ key, vector: [1, 2] }]);
   * cache.putMany([{ key, vector: [3, 4] }]);
   * assert.deepEqual(Array.from(cache.getMany([key])[0]!), [3, 4]);
   * assert.equal(cache.stats().entries, 1);
   * ```
   */
  putMany(entries: readonly CacheEntry[]): void {
    this.#checkOpen("write");
    if (entries.length === 0 && this.#pendingTouches.size === 0) return;
    this.#transaction("BEGIN IMMEDIATE", () => {
      const time = now();
      for (const { key, vector } of entries) {
        const bytes = new Uint8Array(Float32Array.from(vector).buffer);
        this.#upsert.run(checkKey(key), bytes, time);
      }
      this.#writeTouches(time);
      this.#evictOverflow();
    });
    this.#counters.written += entries.length;
  }

  /**
   * Writes the last-used times of the hits read since the last write. Called
   * by {@linkcode EmbeddingCache.close}; call it yourself to make them visible
   * to other processes sooner.
   *
   * @example Usage
   * ```ts
   * import { cacheKey, EmbeddingCache } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * using cache = new EmbeddingCache(`${await Deno.makeTempDir()}/c.sqlite`);
   * const key = cacheKey({ model: "m" }, "text");
   * cache.putMany([{ key, vector: [1] }]);
   * assert.equal(cache.getMany([key]).length, 1);
   * cache.flush();
   * assert.equal(cache.stats().hits, 1);
   * ```
   */
  flush(): void {
    this.#checkOpen("write");
    if (this.#pendingTouches.size === 0) return;
    this.#transaction("BEGIN IMMEDIATE", () => this.#writeTouches(now()));
  }

  /**
   * Returns the entries and bytes in the file, and this connection's counts.
   *
   * @returns The statistics.
   *
   * @example Usage
   * ```ts
   * import { EmbeddingCache } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * using cache = new EmbeddingCache(`${await Deno.makeTempDir()}/c.sqlite`);
   * assert.deepEqual(cache.stats(), {
   *   entries: 0, bytes: 0, hits: 0, misses: 0, written: 0, evicted: 0,
   * });
   * ```
   */
  stats(): CacheStats {
    this.#checkOpen("read");
    const row = this.#guard(() => this.#totals.get()!);
    return { entries: Number(row.entries), bytes: Number(row.bytes), ...this.#counters };
  }

  /**
   * Writes pending last-used times and closes the file. Further calls throw;
   * closing twice does nothing.
   *
   * @example Usage
   * ```ts
   * import { EmbeddingCache } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const cache = new EmbeddingCache(`${await Deno.makeTempDir()}/c.sqlite`);
   * cache.close();
   * assert.throws(() => cache.getMany([]), TypeError);
   * ```
   */
  close(): void {
    if (this.#closed) return;
    try {
      this.flush();
    } finally {
      this.#closed = true;
      this.#db.close();
    }
  }

  /** Closes the cache: `using cache = new EmbeddingCache(path)`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #writeTouches(time: number): void {
    for (const id of this.#pendingTouches) this.#touch.run(time, id);
    this.#pendingTouches.clear();
  }

  #evictOverflow(): void {
    const max = this.#maxSize;
    if (max === undefined) return;
    for (;;) {
      const { entries, bytes } = this.#totals.get()!;
      const excess = Number(bytes) - max;
      if (excess <= 0 || Number(entries) === 0) return;
      const perEntry = Number(bytes) / Number(entries);
      const count = Math.max(1, Math.ceil(excess / perEntry));
      const { changes } = this.#evict.run(count);
      this.#counters.evicted += Number(changes);
      if (Number(changes) === 0) return; // nothing left to evict: a damaged usage table
    }
  }

  #transaction(begin: string, body: () => void): void {
    this.#guard(() => {
      this.#db.exec(begin);
      try {
        body();
        this.#db.exec("COMMIT");
      } catch (error) {
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
        throw error;
      }
    });
  }

  #guard<T>(body: () => T): T {
    try {
      return body();
    } catch (error) {
      throw this.#wrap(error);
    }
  }

  /** Turns SQLite's "not a database" and "malformed" errors into {@linkcode CacheFileError}. */
  #wrap(error: unknown): unknown {
    if (error instanceof CacheFileError) return error;
    const code = (error as { errcode?: number })?.errcode;
    // SQLITE_CORRUPT is 11, SQLITE_NOTADB 26; extended codes keep them in the low byte.
    if (code !== undefined && (code & 0xff) === 26) {
      return new CacheFileError(this.path, "not-a-database", "it is not an SQLite database", {
        cause: error,
      });
    }
    if (code !== undefined && (code & 0xff) === 11) {
      return new CacheFileError(
        this.path,
        "corrupt",
        `the file is damaged: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return error;
  }

  #checkOpen(what: string): void {
    if (this.#closed) {
      throw new TypeError(`Cannot ${what} cache ${this.path}: it is closed`);
    }
  }
}

function checkKey(key: Uint8Array): Uint8Array {
  if (key.byteLength !== 32) {
    throw new TypeError(`Cannot use cache key: expected 32 bytes, received ${key.byteLength}`);
  }
  return key;
}

function toFloat32(bytes: Uint8Array): Float32Array {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
}
