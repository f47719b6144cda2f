import { createHash } from 'node:crypto';

/** SHA-256 of a text's UTF-8 bytes, base64: how the audit log refers to a document it does not copy. */
export function sha256Base64(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('base64');
}
