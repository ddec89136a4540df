import { DeleteParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { emulatorClientConfig, uniqueName } from '../../localstack/testing.ts';
import { SsmKillSwitch } from './kill-switch.ts';

/** The kill switch against the emulator's SSM. */
describe('kill switch', () => {
  const ssm = new SSMClient(emulatorClientConfig());
  const name = `/homeostat/${uniqueName('kill')}`;
  const put = (Value: string) =>
    ssm.send(new PutParameterCommand({ Name: name, Value, Type: 'String', Overwrite: true }));

  it('is off while the parameter does not exist, on for "on", and cached for its time to live', async () => {
    let now = 0;
    const killSwitch = new SsmKillSwitch(ssm, name, 10_000, () => now);
    expect(await killSwitch.read()).toEqual({ engaged: false, reason: null });
    await put('ON');
    // Within the ten seconds the cached reading stands; after them the flip is seen.
    now = 9_000;
    expect((await killSwitch.read()).engaged).toBe(false);
    now = 10_001;
    expect((await killSwitch.read()).engaged).toBe(true);
    await put('off');
    now = 20_002;
    expect((await killSwitch.read()).engaged).toBe(false);
    await ssm.send(new DeleteParameterCommand({ Name: name }));
  });

  it('fails safe: a switch that cannot be read is engaged, with the reason', async () => {
    const unreachable = new SSMClient({
      ...emulatorClientConfig(),
      endpoint: 'http://127.0.0.1:9',
      maxAttempts: 1,
    });
    const reading = await new SsmKillSwitch(unreachable, name).read();
    expect(reading.engaged).toBe(true);
    expect(reading.reason).toMatch(/could not be read .*failing safe/);
  });
});
