// -o yaml and -o json: keys sorted (as kubectl's unstructured output), JSON indented by four spaces.
import YAML from 'yaml';

export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, sortKeys(o[k])]),
    );
  }
  return v;
}

export const toJson = (v: unknown): string => JSON.stringify(sortKeys(v), null, 4) + '\n';

export const toYaml = (v: unknown): string => YAML.stringify(sortKeys(v), { schema: 'yaml-1.1', indentSeq: false, lineWidth: 0, aliasDuplicateObjects: false });
