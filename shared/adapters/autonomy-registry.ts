/** Autonomy per service and action in the registry, changed only by people, every change audited. */

import { type Autonomy, autonomyLevels } from '../domain/policy.ts';
import type { ServiceRef } from '../domain/signal.ts';
import type { CatalogAction } from '../domain/taxonomy.ts';
import { appendAudit } from './audit-log.ts';
import { type Pool, withTransaction } from './database.ts';
import { type AutonomyRecommendation, toRecommendation } from './learning-store.ts';

export interface ServiceAutonomy {
  service: ServiceRef;
  /** null: the deployment's default (remediation settings) applies. */
  default: Autonomy | null;
  perAction: Partial<Record<CatalogAction, Autonomy>>;
  openRecommendations: AutonomyRecommendation[];
}

export class UnknownServiceError extends Error {
  constructor(ref: ServiceRef) {
    super(`${ref.cluster}/${ref.service} is not a watched service`);
    this.name = 'UnknownServiceError';
  }
}

export const isAutonomy = (v: string): v is Autonomy => (autonomyLevels as readonly string[]).includes(v);

export class PostgresAutonomyRegistry {
  constructor(private readonly pool: Pool) {}

  async get(ref: ServiceRef): Promise<ServiceAutonomy> {
    const { rows } = await this.pool.query(
      'SELECT autonomy FROM watched_services WHERE cluster = $1 AND service = $2',
      [ref.cluster, ref.service],
    );
    if (!rows[0]) throw new UnknownServiceError(ref);
    const autonomy = rows[0].autonomy as { default?: Autonomy; perAction?: ServiceAutonomy['perAction'] };
    return {
      service: ref,
      default: autonomy.default ?? null,
      perAction: autonomy.perAction ?? {},
      openRecommendations: await this.recommendations({ service: ref }),
    };
  }

  async recommendations(
    filter: { service?: ServiceRef; open?: boolean } = {},
  ): Promise<AutonomyRecommendation[]> {
    const { rows } = await this.pool.query(
      `SELECT * FROM autonomy_recommendations
        WHERE ($1::text IS NULL OR (cluster = $1 AND service = $2)) AND ($3::boolean IS NOT TRUE OR decision IS NULL)
        ORDER BY recommended_at DESC, id DESC LIMIT 200`,
      [filter.service?.cluster ?? null, filter.service?.service ?? null, filter.open ?? true],
    );
    return rows.map(toRecommendation);
  }

  /**
   * Sets one action's level (or the service default with action null), closes the open
   * recommendations it answers (promoted when it reaches their level, dismissed otherwise),
   * and writes the audit log — in one transaction.
   */
  async set(ref: ServiceRef, action: CatalogAction | null, level: Autonomy, by: string) {
    return withTransaction(this.pool, async (client) => {
      const { rows } = await client.query(
        'SELECT autonomy FROM watched_services WHERE cluster = $1 AND service = $2 FOR UPDATE',
        [ref.cluster, ref.service],
      );
      if (!rows[0]) throw new UnknownServiceError(ref);
      const before = rows[0].autonomy as Record<string, unknown>;
      const after = action
        ? { ...before, perAction: { ...((before.perAction as object) ?? {}), [action]: level } }
        : { ...before, default: level };
      await client.query('UPDATE watched_services SET autonomy = $3 WHERE cluster = $1 AND service = $2', [
        ref.cluster,
        ref.service,
        JSON.stringify(after),
      ]);
      const closed = action
        ? await client.query(
            `UPDATE autonomy_recommendations
                SET decision = CASE WHEN to_level = $4 THEN 'promoted' ELSE 'dismissed' END, decided_by = $5, decided_at = now()
              WHERE cluster = $1 AND service = $2 AND action = $3 AND decision IS NULL RETURNING id, to_level`,
            [ref.cluster, ref.service, action, level, by],
          )
        : { rows: [] };
      const inputs = { service: ref, action, level };
      await appendAudit(client, [
        {
          actor: by,
          action: 'autonomy.set',
          inputs,
          result: level,
          detail: { before, after, recommendations: closed.rows },
        },
      ]);
      return { before, after, recommendationsClosed: closed.rows.length };
    });
  }
}
