import type { z } from 'zod';

// Schemas marked secret are never printed: not in config summaries, not in error messages.
const secretSchemas = new WeakSet<z.ZodType>();

export function secret<T extends z.ZodType>(schema: T): T {
  secretSchemas.add(schema);
  return schema;
}

export function isSecret(schema: z.ZodType): boolean {
  return secretSchemas.has(schema);
}
