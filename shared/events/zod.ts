/**
 * English messages for zod/mini. Schemas use zod/mini because it tree-shakes
 * (classic zod adds ~420 KB to every bundle), but it ships no messages, and a
 * rejected event must say why. Importing this module installs them; modules
 * import `zod/mini` themselves (re-exporting the namespace would defeat
 * tree-shaking).
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

z.config(en());

/** One line per problem: `path: message`. */
export function describeIssues(error: z.core.$ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
}
