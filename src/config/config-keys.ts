import type { z } from 'zod';

/**
 * Every key path a configuration schema accepts (`listen.host`, `connections[].name`), found by
 * walking the schema itself: the configuration reference is checked against it, so a key added
 * to the schema without documentation fails the tests.
 */
export function configKeyPaths(schema: z.ZodType, prefix = ''): string[] {
  const def = (schema as unknown as { _zod: { def: ZodDef } })._zod.def;
  switch (def.type) {
    case 'object': {
      const out: string[] = [];
      for (const [key, child] of Object.entries(def.shape ?? {})) {
        const path = prefix === '' ? key : `${prefix}.${key}`;
        out.push(path, ...configKeyPaths(child, path));
      }
      return out;
    }
    case 'optional':
    case 'default':
    case 'nullable':
      return def.innerType ? configKeyPaths(def.innerType, prefix) : [];
    case 'pipe':
      return def.in ? configKeyPaths(def.in, prefix) : [];
    case 'array':
      return def.element ? configKeyPaths(def.element, `${prefix}[]`) : [];
    case 'union':
      return [...new Set((def.options ?? []).flatMap((o) => configKeyPaths(o, prefix)))];
    default:
      return [];
  }
}

interface ZodDef {
  readonly type: string;
  readonly shape?: Record<string, z.ZodType>;
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
  readonly element?: z.ZodType;
  readonly options?: readonly z.ZodType[];
}
