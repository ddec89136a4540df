import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ensureChromium,
  ensurePythonVenv,
  exitedError,
  GaveUpWaiting,
  localDbPorts,
  portFromEnv,
  waitFor,
} from './harness.ts';

/** The local ports each OS gives outgoing connections; a listener cannot bind one a client socket holds. */
function ephemeralRanges(): [number, number][] {
  const ranges: [number, number][] = [
    [32768, 60999], // Linux default
    [49152, 65535], // macOS, Windows (IANA)
  ];
  const linux = '/proc/sys/net/ipv4/ip_local_port_range';
  if (existsSync(linux)) {
    const [low, high] = readFileSync(linux, 'utf8').trim().split(/\s+/).map(Number);
    ranges.push([low ?? 0, high ?? 0]);
  }
  return ranges;
}

describe('local harness', () => {
  it('serves the local database on ports no outgoing connection is ever given', () => {
    for (const port of [localDbPorts.pgPort, localDbPorts.proxyPort]) {
      for (const [low, high] of ephemeralRanges()) {
        expect(port < low || port > high, `${port} inside ${low}–${high}`).toBe(true);
      }
    }
  });

  it('reads a port from the environment and refuses one that is not a port', () => {
    expect(portFromEnv('HOMEOSTAT_DB_PORT', 25432, {})).toBe(25432);
    expect(portFromEnv('HOMEOSTAT_DB_PORT', 25432, { HOMEOSTAT_DB_PORT: '' })).toBe(25432);
    expect(portFromEnv('HOMEOSTAT_DB_PORT', 25432, { HOMEOSTAT_DB_PORT: '15432' })).toBe(15432);
    for (const bad of ['0', '65536', 'abc', '5432.5']) {
      expect(() => portFromEnv('HOMEOSTAT_DB_PORT', 25432, { HOMEOSTAT_DB_PORT: bad })).toThrow(
        `HOMEOSTAT_DB_PORT=${bad} is not a TCP port (1–65535)`,
      );
    }
  });

  it('quotes only what a process that died while starting wrote to its log this time', () => {
    const log = join(mkdtempSync(join(tmpdir(), 'harness-')), 'database.log');
    writeFileSync(log, 'knowledge database ready (an earlier run)\n');
    const offset = readFileSync(log).length;
    appendFileSync(log, 'Error: listen EADDRINUSE: address already in use 127.0.0.1:25432\n');
    const error = exitedError('database', log, offset);
    expect(error).toBeInstanceOf(GaveUpWaiting);
    expect(error.message).toBe(
      `database exited; see ${log}. Its last lines:\nError: listen EADDRINUSE: address already in use 127.0.0.1:25432`,
    );
    expect(exitedError('database', join(log, 'missing'), 0).message).toBe(
      `database exited; see ${join(log, 'missing')}`,
    );
  });

  it('stops waiting at once when the probe gives up, and keeps polling through other errors', async () => {
    let calls = 0;
    const gaveUp = waitFor('a process', async () => {
      calls += 1;
      throw new GaveUpWaiting('it died');
    });
    await expect(gaveUp).rejects.toThrow('it died');
    expect(calls).toBe(1);

    let attempts = 0;
    const value = await waitFor(
      'a flaky probe',
      async () => {
        attempts += 1;
        if (attempts < 3) throw new Error('not yet');
        return 'ready';
      },
      { intervalMs: 1 },
    );
    expect([value, attempts]).toEqual(['ready', 3]);
  });

  it('installs a venv only when its pins changed, and records them only after a successful install', () => {
    const dir = mkdtempSync(join(tmpdir(), 'homeostat-venv-'));
    const requirements = join(dir, 'requirements.txt');
    writeFileSync(requirements, 'cfn-lint==1.58.0\n');
    const venv = join(dir, 'venv');
    const stamp = join(venv, '.requirements.sha256');
    const python = process.env.PYTHON;
    process.env.PYTHON = 'false'; // a venv creation that fails
    try {
      expect(() => ensurePythonVenv(venv, requirements, 'a tool')).toThrow();
      expect(existsSync(stamp)).toBe(false);
      // The same pins already installed: nothing runs (the failing python is not called).
      mkdirSync(venv, { recursive: true });
      writeFileSync(stamp, createHash('sha256').update(readFileSync(requirements)).digest('hex'));
      const lines: string[] = [];
      ensurePythonVenv(venv, requirements, 'a tool', (line) => lines.push(line));
      expect(lines).toEqual([]);
      // A changed pin reinstalls.
      appendFileSync(requirements, 'PyYAML==6.0.4\n');
      expect(() => ensurePythonVenv(venv, requirements, 'a tool', (line) => lines.push(line))).toThrow();
      expect(lines).toEqual([
        expect.stringMatching(/^installing a tool into .*venv \(pins: .*requirements\.txt\)/),
      ]);
    } finally {
      if (python === undefined) delete process.env.PYTHON;
      else process.env.PYTHON = python;
    }
  });

  it('finds the report browser, or says what to run when it is missing and cannot be installed', () => {
    const present = join(mkdtempSync(join(tmpdir(), 'homeostat-chromium-')), 'chromium');
    writeFileSync(present, '');
    expect(ensureChromium({ path: present, root: false })).toBe(present);
    const missing = join(tmpdir(), 'homeostat-no-such-dir', 'chromium');
    expect(() => ensureChromium({ path: missing, fromEnv: false, root: false })).toThrow(
      `no browser at ${missing} for the HTML report test: run \`sudo apt-get install chromium\``,
    );
    // A path the user chose: installing Debian's package would not put a browser there.
    expect(() => ensureChromium({ path: missing, fromEnv: true, root: true })).toThrow(
      `HOMEOSTAT_CHROMIUM=${missing} does not exist`,
    );
  });
});
