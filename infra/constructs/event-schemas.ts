import * as eventschemas from 'aws-cdk-lib/aws-eventschemas';
import { Construct } from 'constructs';
import * as z from 'zod/mini';
import { eventCatalog } from '../../shared/events/catalog.ts';
import { envelopeSchema } from '../../shared/events/envelope.ts';

export interface EventSchemasProps {
  /** @default 'homeostat' */
  readonly registryName?: string;
}

/** The JSON Schema (draft-4) of one detail-type: the envelope with its typed `data`. */
export function jsonSchemaOf(detailType: keyof typeof eventCatalog): Record<string, unknown> {
  const schema = z.extend(envelopeSchema, {
    type: z.literal(detailType),
    data: eventCatalog[detailType].data,
  });
  return {
    ...(z.toJSONSchema(schema, { target: 'draft-4', io: 'output' }) as Record<string, unknown>),
    title: detailType,
    description: eventCatalog[detailType].description,
  };
}

/**
 * An EventBridge Schema Registry holding one JSON Schema per Homeostat
 * detail-type, generated from the zod schemas the agents validate with, so
 * users can discover the contract and generate code bindings.
 */
export class EventSchemas extends Construct {
  readonly registry: eventschemas.CfnRegistry;
  readonly schemas: eventschemas.CfnSchema[];

  constructor(scope: Construct, id: string, props: EventSchemasProps = {}) {
    super(scope, id);
    this.registry = new eventschemas.CfnRegistry(this, 'Registry', {
      registryName: props.registryName ?? 'homeostat',
      description: 'Events on the Homeostat bus (the DESIGN envelope with typed data)',
    });
    this.schemas = (Object.keys(eventCatalog) as (keyof typeof eventCatalog)[]).map((detailType) => {
      const schema = new eventschemas.CfnSchema(this, detailType, {
        registryName: this.registry.attrRegistryName,
        schemaName: `homeostat@${detailType}`,
        type: 'JSONSchemaDraft4',
        description: eventCatalog[detailType].description,
        content: JSON.stringify(jsonSchemaOf(detailType)),
      });
      return schema;
    });
  }
}
