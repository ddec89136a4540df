/**
 * zod/mini with English messages. zod/mini keeps Lambda bundles small (classic
 * zod adds ~440 KB of locales and helpers) but ships no messages by default, and
 * a rejected event must say why it was rejected.
 */
import * as z from 'zod/mini';
import { en } from 'zod/v4/locales';

z.config(en());

export { z };

/** One line per problem: `path: message`. */
export function describeIssues(error: z.core.$ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
}
