// The simple JSONPath of additionalPrinterColumns, selectableFields and scale paths: `.spec.replicas`,
// `.items[0].name`, `.items[*].name`, `.status.conditions[?(@.type=="Ready")].status`.
export type Step = { field: string } | { index: number } | { all: true } | { filter: { path: string[]; value: string } };

export class JsonPathError extends Error {}

/** Parses a path; throws JsonPathError for what this subset does not read. */
export function parseJsonPath(path: string): Step[] {
  const text = path.trim().replace(/^\{(.*)\}$/, '$1').replace(/^\$/, '');
  const steps: Step[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '.') {
      const m = /^\.([A-Za-z0-9_\-$]+)/.exec(text.slice(i));
      if (!m) throw new JsonPathError(`unexpected ${JSON.stringify(text.slice(i, i + 10))} in ${path}`);
      steps.push({ field: m[1] ?? '' });
      i += m[0].length;
    } else if (c === '[') {
      const end = text.indexOf(']', i);
      if (end < 0) throw new JsonPathError(`unclosed [ in ${path}`);
      const inner = text.slice(i + 1, end).trim();
      const f = /^\?\(@((?:\.[A-Za-z0-9_\-]+)+)\s*==\s*["']([^"']*)["']\)$/.exec(inner);
      if (inner === '*') steps.push({ all: true });
      else if (/^\d+$/.test(inner)) steps.push({ index: Number(inner) });
      else if (/^["'].*["']$/.test(inner)) steps.push({ field: inner.slice(1, -1) });
      else if (f) steps.push({ filter: { path: (f[1] ?? '').slice(1).split('.'), value: f[2] ?? '' } });
      else throw new JsonPathError(`unsupported [${inner}] in ${path}`);
      i = end + 1;
    } else throw new JsonPathError(`unexpected ${JSON.stringify(c)} in ${path}`);
  }
  return steps;
}

const member = (v: unknown, k: string): unknown => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined);

/** Every value the path reaches in `root`. */
export function evalJsonPath(steps: readonly Step[], root: unknown): unknown[] {
  let cur: unknown[] = [root];
  for (const s of steps) {
    const next: unknown[] = [];
    for (const v of cur) {
      if ('field' in s) {
        const x = member(v, s.field);
        if (x !== undefined) next.push(x);
      } else if ('index' in s) {
        if (Array.isArray(v) && v[s.index] !== undefined) next.push(v[s.index]);
      } else if ('all' in s) {
        if (Array.isArray(v)) next.push(...v);
        else if (typeof v === 'object' && v !== null) next.push(...Object.values(v));
      } else if (Array.isArray(v)) {
        next.push(...v.filter((x) => String(s.filter.path.reduce<unknown>((acc, k) => member(acc, k), x)) === s.filter.value));
      }
    }
    cur = next;
  }
  return cur;
}
