/**
 * Secret redaction: every text that reaches Bedrock, the database or Slack
 * from the workload (log lines, stop reasons, service events, signals) goes
 * through here first. Pure and synchronous.
 *
 * One table of rules, applied in order:
 * 1. private-key blocks (PEM, also with `\n` escapes, also cut off before END);
 * 2. credentials in URLs (`scheme://user:PASSWORD@host`);
 * 3. tokens whose issuers document a recognisable shape (AWS access key ids,
 *    GitHub, GitLab, Slack, Stripe, Google, npm, SendGrid, JWTs);
 * 4. HTTP Authorization / Cookie headers and bare Bearer tokens;
 * 5. values assigned to a secret-named key — `KEY=v`, `key: v`, `"key": "v"`,
 *    `--flag v` — where the key is split on `_`, `-`, `.` and camelCase, so
 *    `DB_PASSWORD`, `clientSecret`, `x-api-key` and `aws_secret_access_key` count;
 * 6. a whole line of key material (a PEM body line logged on its own).
 *
 * Only the secret is replaced: the key name, the scheme and the message
 * around it stay, and AWS's own messages (ARNs, digests, request ids, ECS
 * stop reasons) pass unchanged — diagnosis matches on them.
 *
 * Why no library: the maintained candidates either redact objects by path
 * (fast-redact, @pinojs/redact), cover one vendor (@npmcli/redact), or scan
 * files asynchronously for known token formats only (secretlint) — none
 * finds `DB_PASSWORD=…`, and redaction must stay synchronous for the pure
 * pre-analysis. The token shapes below follow the issuers' documentation.
 */

const mark = '[redacted]';
const alreadyRedacted = (value: string) => value.startsWith('[redacted');

// ——— Secret-named keys ———

/** A last word that makes a key secret on its own. */
const secretWords = new Set([
  'pw',
  'pwd',
  'pass',
  'auth',
  'authorization',
  'credential',
  'credentials',
  'creds',
  'signature',
  'cookie',
]);
/** A last word ending like this makes a key secret (`dbpassword`, `authtoken`, `clientsecret`). */
const secretEndings = ['password', 'passwd', 'passphrase', 'secret', 'token', 'apikey', 'privatekey'];
/** `<qualifier> key` is a secret (`api_key`, `signingKey`); a bare `key` is not. */
const keyQualifiers = new Set([
  'api',
  'access',
  'secret',
  'private',
  'signing',
  'encryption',
  'master',
  'account',
  'license',
  'auth',
  'app',
  'shared',
]);
/** Dropped from the end before judging: `SECRET_KEY_BASE`, `SecretString`. */
const trailingWords = new Set(['base', 'value', 'string', 'binary', 'b64', 'base64']);

/** The words of a key: `DB_PASSWORD`, `clientSecret`, `x-api-key`, `spring.datasource.password`. */
function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** Whether a key (variable, field, header, flag) names a secret. `*_ID`, `*_ARN`, `*_FILE` do not. */
export function isSecretKey(key: string): boolean {
  const words = keyWords(key);
  if (words.length > 1 && trailingWords.has(words.at(-1) as string)) words.pop();
  const last = words.at(-1) ?? '';
  if (secretWords.has(last) || secretEndings.some((e) => last.endsWith(e))) return true;
  return last === 'key' && words.length > 1 && keyQualifiers.has(words.at(-2) as string);
}

// ——— Rules over text ———

type Rule = [pattern: RegExp, replace: string | ((match: string, ...groups: string[]) => string)];

const tokenChars = '[A-Za-z0-9._~+/=-]';
const authSchemes = 'bearer|basic|token|bot|digest|apikey|aws4-hmac-sha256|negotiate|ntlm';
const cookieAttributes = new Set([
  'path',
  'domain',
  'expires',
  'max-age',
  'samesite',
  'secure',
  'httponly',
  'priority',
  'partitioned',
]);

const rules: Rule[] = [
  // PEM private keys, multi-line or with `\n` escapes (JSON); a block cut off before END loses the rest.
  [
    /(-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)[\s\S]*?(?:(-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)|$)/g,
    (_m, begin, end) => `${begin}${mark}${end ?? ''}`,
  ],
  // scheme://user:password@host (the user may be empty: redis://:password@host).
  [/\b([a-z][a-z0-9+.-]*:\/\/)([^:/?#\s@]*):([^@\s/?#]+)@/gi, `$1$2:${mark}@`],
  // Slack incoming webhooks and workflow triggers: the path is the secret.
  [/(https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/)[A-Za-z0-9/_-]+/g, `$1${mark}`],
  // AWS access key ids (IAM: AKIA long-term, ASIA temporary; ABIA/ACCA other credentials).
  [/\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b/g, '[redacted-aws-key]'],
  // GitHub: ghp_ (classic PAT), gho_ (OAuth), ghu_/ghs_ (App), ghr_ (refresh); github_pat_ (fine-grained).
  [/\b(?:gh[pousr]_[A-Za-z0-9_]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g, '[redacted-github-token]'],
  [/\bglpat-[A-Za-z0-9_-]{20,}/g, '[redacted-gitlab-token]'],
  // Slack: xoxb- (bot), xoxp- (user), xoxa/xoxr/xoxe/xoxc (other), xapp- (app-level).
  [/\b(?:xox[abposrec]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,})/g, '[redacted-slack-token]'],
  // Stripe secret and restricted keys, webhook signing secrets (pk_ keys are public).
  [/\b(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9]{20,})/g, '[redacted-stripe-key]'],
  [/\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g, '[redacted-google-key]'],
  [/\bnpm_[A-Za-z0-9]{36}\b/g, '[redacted-npm-token]'],
  [/\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/g, '[redacted-sendgrid-key]'],
  [/\beyJ[\w-]{10,}\.[\w-]{10,}(?:\.[\w-]*)?/g, '[redacted-jwt]'],
  // OpenAI (sk-proj-, sk-svcacct-, sk-) and Anthropic (sk-ant-) API keys; HashiCorp Vault tokens (hvs./hvb./hvr.).
  [/\bsk-(?:proj-|svcacct-|ant-[a-z0-9]+-)?[A-Za-z0-9_-]{20,}/g, '[redacted-api-key]'],
  [/\bhv[sbr]\.[A-Za-z0-9_-]{20,}/g, '[redacted-vault-token]'],
  // ECS's own shape for environment and secrets: {"name": "DB_PASSWORD", "value": "…"}.
  [
    /("name"\s*:\s*"([^"\n]+)"\s*,\s*"value"\s*:\s*")((?:[^"\\\n]|\\.)*)(")/g,
    (whole, head, name, value, tail) =>
      isSecretKey(name) && !alreadyRedacted(value) ? `${head}${mark}${tail}` : whole,
  ],
  // XML and HTML-ish elements named for a secret: <password>…</password>.
  [
    /<([A-Za-z_][\w.-]*)>([^<\n]+)<\/\1>/g,
    (whole, tag, value) => (isSecretKey(tag) && !alreadyRedacted(value) ? `<${tag}>${mark}</${tag}>` : whole),
  ],
  // Authorization headers: the scheme stays, the credentials go.
  [
    new RegExp(
      String.raw`\b((?:proxy-)?authorization)(\\?["']?\s*[:=]\s*\\?["']?)(?:(${authSchemes})\s+)?(?!\[redacted)(?!(?:${authSchemes})\s)[^\s"',;\\]+`,
      'gi',
    ),
    (_m, name, sep, scheme) => `${name}${sep}${scheme ? `${scheme} ` : ''}${mark}`,
  ],
  // Cookie / Set-Cookie: every cookie's value (attributes such as Path stay).
  [
    /\b(set-cookie|cookie)(\\?["']?\s*[:=]\s*\\?["']?)([^\r\n"'\\]*)/gi,
    (_m, name, sep, value) =>
      `${name}${sep}${value.replace(
        /(^|;\s*)([^=;\s]+)=([^;]*)/g,
        (pair: string, lead: string, cookie: string, v: string) =>
          cookieAttributes.has(cookie.toLowerCase()) || alreadyRedacted(v)
            ? pair
            : `${lead}${cookie}=${mark}`,
      )}`,
  ],
  // A bearer or basic credential outside a header (with a digit: "Bearer authentication" is prose).
  [
    new RegExp(String.raw`\b(Bearer|Basic)\s+(?!\[redacted)(?=[A-Za-z._~+/=-]*[0-9])${tokenChars}{8,}`, 'gi'),
    `$1 ${mark}`,
  ],
];

/**
 * `key=value`, `key: value`, `"key": "value"`, `--flag value`: the key (group 3)
 * is judged by isSecretKey; the value (group 6) is quoted, escaped-quoted or bare.
 */
const assignment =
  /(?<![\w.\-\\])(\\?["'])?(--?)?([A-Za-z_][\w.-]*)(\\?["'])?([ \t]*(?::=|=>|[:=])[ \t]*|[ \t]+)(\\"(?:(?!\\").)*\\"|"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|(?![{[])[^\s"'`,;&\\]+)/g;

function redactAssignments(text: string): string {
  let out = '';
  let copied = 0;
  assignment.lastIndex = 0;
  for (let m = assignment.exec(text); m; m = assignment.exec(text)) {
    const [whole, open = '', dashes = '', key = '', close = '', sep = '', value = ''] = m;
    const redacted = secretAssignment(text, m.index, { open, dashes, key, close, sep, value });
    if (redacted === null) {
      // Not a secret: look again from the next character (the value may hold `password=…`).
      assignment.lastIndex = m.index + 1;
      continue;
    }
    out += text.slice(copied, m.index) + whole.slice(0, whole.length - value.length) + redacted;
    copied = m.index + whole.length;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** The redacted value, or null when this is not a secret assignment. */
function secretAssignment(
  text: string,
  index: number,
  a: { open: string; dashes: string; key: string; close: string; sep: string; value: string },
): string | null {
  if (!isSecretKey(a.key) || /authorization$|cookie$/i.test(a.key)) return null; // headers have their own rules
  const quote = /^(\\"|"|')/.exec(a.value)?.[1] ?? '';
  const inner = quote ? a.value.slice(quote.length, a.value.length - quote.length) : a.value;
  if (alreadyRedacted(inner)) return a.value;
  const spaceOnly = !/[:=]/.test(a.sep);
  // `--password hunter2`: a space separates only a flag from its value, never the next flag.
  if (spaceOnly && (!a.dashes || a.value.startsWith('-'))) return null;
  if (/:/.test(a.sep) && !/=/.test(a.sep)) {
    const before = text[index - 1] ?? '';
    // arn:aws:secretsmanager:…:secret:name — part of an ARN or a path, not a key.
    if (before === ':' || before === '/') return null;
    const keyQuoted = a.open !== '' && a.close !== '';
    const tight = a.sep === ':';
    const lineStart = text.lastIndexOf('\n', index - 1) + 1;
    const prefix = text.slice(lineStart, index);
    const compound = /[_.-]/.test(a.key) || /^[a-z]+[A-Z]/.test(a.key);
    const errorCode = /^[A-Z][a-z0-9]+[A-Z]/.test(a.key); // ExpiredToken, InvalidSignature
    // "registry auth: execution…", "ExpiredToken: The provided token…", "invalid token: signature…" are prose.
    const assigned =
      keyQuoted ||
      quote !== '' ||
      tight ||
      (!errorCode && (compound || /^[\s-]*$/.test(prefix) || /[{,][ \t]*$/.test(prefix)));
    if (!assigned) return null;
  }
  // `{…, password=hunter2}`: an unopened closing bracket belongs to the text around, not the value.
  const closing = quote || /[([{]/.test(a.value) ? '' : (/[)\]}]+$/.exec(a.value)?.[0] ?? '');
  return `${quote}${mark}${quote}${closing}`;
}

/** A line that is nothing but key material (a PEM body line logged on its own). */
const keyMaterialLine = /^([ \t]*)([A-Za-z0-9+/]{24,}={0,2})([ \t]*)$/gm;

/** Removes credentials from text of any length. */
export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replace] of rules)
    out = typeof replace === 'string' ? out.replace(pattern, replace) : out.replace(pattern, replace);
  out = redactAssignments(out);
  return out.replace(keyMaterialLine, (line, lead, body, tail) =>
    /[A-Z]/.test(body) && /[a-z]/.test(body) && /[0-9]/.test(body) ? `${lead}${mark}${tail}` : line,
  );
}

/** Removes credentials from a line of workload output and bounds its length. */
export function redact(line: string, maxChars = 500): string {
  const out = redactText(line);
  return out.length > maxChars ? `${out.slice(0, maxChars - 1)}…` : out;
}

// ——— Structured data ———

const isFlag = (s: string) => /^--?[A-Za-z][\w.-]*$/.test(s);

/**
 * A copy of JSON-like data with every string redacted, values under
 * secret-named keys replaced, `{name, value}` pairs (ECS environment) judged
 * by their name and `--password x` argument lists (commands) by their flag.
 */
export function redactDeep<T>(value: T): T {
  return deep(value) as T;
}

function deep(value: unknown): unknown {
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) {
    const out = value.map(deep);
    for (let i = 0; i + 1 < out.length; i++) {
      const flag = value[i];
      const next = out[i + 1];
      if (typeof flag === 'string' && isFlag(flag) && isSecretKey(flag) && typeof next === 'string')
        if (!next.startsWith('-') && !alreadyRedacted(next)) out[i + 1] = mark;
    }
    return out;
  }
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype)
    return value;
  const record = value as Record<string, unknown>;
  const pairName = record.name ?? record.Name ?? record.key ?? record.Key;
  const secretPair = typeof pairName === 'string' && isSecretKey(pairName);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) {
    const secret =
      isSecretKey(k) || (secretPair && (k === 'value' || k === 'Value') && typeof v === 'string');
    out[k] = secret && (typeof v === 'string' || typeof v === 'number') && v !== '' ? mark : deep(v);
  }
  return out;
}
