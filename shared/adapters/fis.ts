import {
  GetExperimentCommand,
  FisClient as SdkFisClient,
  StartExperimentCommand,
  StopExperimentCommand,
} from '@aws-sdk/client-fis';
import { HomeostatError } from '../domain/errors.ts';

/** States in which a FIS experiment is still acting on its targets. */
const live = new Set(['pending', 'initiating', 'running']);

/**
 * AWS Fault Injection Service, as chaos needs it: start an experiment from a
 * template (idempotent by client token), stop it when it still runs.
 */
export class FisClient {
  constructor(private readonly client: SdkFisClient = new SdkFisClient({ maxAttempts: 5 })) {}

  async start(templateId: string, clientToken: string, tags: Record<string, string>): Promise<string> {
    const out = await this.client.send(
      new StartExperimentCommand({ experimentTemplateId: templateId, clientToken, tags }),
    );
    const id = out.experiment?.id;
    if (!id) throw new HomeostatError(`FIS started no experiment from template ${templateId}`);
    return id;
  }

  /** Stops the experiment if it is still acting; whether it had to. */
  async stopIfRunning(id: string): Promise<boolean> {
    const out = await this.client.send(new GetExperimentCommand({ id }));
    if (!live.has(out.experiment?.state?.status ?? '')) return false;
    await this.client.send(new StopExperimentCommand({ id }));
    return true;
  }
}
