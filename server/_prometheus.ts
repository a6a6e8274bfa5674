// Internal: the few Prometheus metric types the server exposes, rendered in
// the text exposition format (version 0.0.4).

/** Escapes a label value: backslash, double quote and newline. */
function escape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labelText(labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

/** A cheap map key for a label set (label values never hold a NUL). */
function labelKey(labels: Readonly<Record<string, string>>): string {
  let key = "";
  for (const name in labels) key += `${name}\0${labels[name]}\0`;
  return key;
}

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
}

/** A counter, optionally split by labels. */
export class Counter {
  readonly #values = new Map<string, { labels: Record<string, string>; value: number }>();

  constructor(readonly name: string, readonly help: string) {}

  /** Adds `by` (default 1) to the series with these labels. */
  inc(labels: Record<string, string> = {}, by = 1): void {
    const key = labelKey(labels);
    const series = this.#values.get(key);
    if (series === undefined) this.#values.set(key, { labels, value: by });
    else series.value += by;
  }

  /** The value of one series (0 when it was never incremented). */
  get(labels: Record<string, string> = {}): number {
    return this.#values.get(labelKey(labels))?.value ?? 0;
  }

  render(): string {
    let text = header(this.name, this.help, "counter");
    if (this.#values.size === 0) return text + `${this.name} 0\n`;
    for (const { labels, value } of this.#values.values()) {
      text += `${this.name}${labelText(labels)} ${value}\n`;
    }
    return text;
  }
}

/** A value read when scraped: a gauge, or a counter kept elsewhere. */
export class Sampled {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "gauge" | "counter",
    readonly read: () => number,
  ) {}

  render(): string {
    return header(this.name, this.help, this.type) + `${this.name} ${this.read()}\n`;
  }
}

/** A histogram with fixed upper bounds, in base units. */
export class Histogram {
  readonly #bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(readonly name: string, readonly help: string, bounds: readonly number[]) {
    this.#bounds = [...bounds].sort((a, b) => a - b);
    this.#counts = this.#bounds.map(() => 0);
  }

  /** The number of observations so far. */
  get count(): number {
    return this.#count;
  }

  /** The sum of the observations so far. */
  get sum(): number {
    return this.#sum;
  }

  observe(value: number): void {
    this.#sum += value;
    this.#count++;
    const i = this.#bounds.findIndex((bound) => value <= bound);
    if (i >= 0) this.#counts[i]!++;
  }

  render(): string {
    let text = header(this.name, this.help, "histogram");
    let cumulative = 0;
    this.#bounds.forEach((bound, i) => {
      cumulative += this.#counts[i]!;
      text += `${this.name}_bucket{le="${bound}"} ${cumulative}\n`;
    });
    text += `${this.name}_bucket{le="+Inf"} ${this.#count}\n`;
    text += `${this.name}_sum ${this.#sum}\n${this.name}_count ${this.#count}\n`;
    return text;
  }
}
