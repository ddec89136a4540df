import type { ChannelName, NotificationStore, SentNotification } from '../usecases/notify.ts';
import { PostgresIncidentViews } from './incident-views.ts';

/** The incident's story and, per channel, what was last sent for it. */
export class PostgresNotificationStore extends PostgresIncidentViews implements NotificationStore {
  async sent(incidentId: string, channel: ChannelName): Promise<SentNotification | null> {
    const { rows } = await this.pool.query(
      'SELECT message_ref, milestones, digest FROM notifications WHERE incident_id = $1 AND channel = $2',
      [incidentId, channel],
    );
    const r = rows[0];
    return r ? { messageRef: r.message_ref, milestones: r.milestones, digest: r.digest } : null;
  }

  async saveSent(incidentId: string, channel: ChannelName, sent: SentNotification): Promise<void> {
    await this.pool.query(
      `INSERT INTO notifications (incident_id, channel, message_ref, milestones, digest)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (incident_id, channel) DO UPDATE
         SET message_ref = EXCLUDED.message_ref, milestones = EXCLUDED.milestones, digest = EXCLUDED.digest,
             sent = notifications.sent + 1, updated_at = now()`,
      [incidentId, channel, sent.messageRef, sent.milestones, sent.digest],
    );
  }
}
