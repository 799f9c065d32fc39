// The Trigger CRD, generated from the zod schema (schema.ts) so the cluster validates exactly what the
// hub validates. `trigger-hub crd` prints it; deploy/crds/ holds the committed copy, and a test fails
// when the two differ.

import { stringify } from 'yaml';
import { z } from 'zod';
import { apiGroup, apiVersion, triggerSpecSchema, triggerStatusSchema } from './schema.ts';

type JsonSchema = Record<string, unknown>;

/**
 * Makes zod's OpenAPI 3.0 output a structural schema (Kubernetes: every node typed, no unions, no
 * `additionalProperties: false`): free-form nodes keep unknown fields, defaults are applied by the API server.
 */
function structural(node: JsonSchema, path: string): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$schema' || key === 'propertyNames') continue;
    if (key === 'additionalProperties' && value === false) continue;
    if (
      (key === 'maximum' && value === Number.MAX_SAFE_INTEGER) ||
      (key === 'minimum' && value === Number.MIN_SAFE_INTEGER)
    )
      continue;
    if (key === 'anyOf' || key === 'oneOf' || key === 'allOf')
      throw new Error(
        `${path}: ${key} is not structural; model it as optional fields with an x-kubernetes-validations rule`,
      );
    if (key === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([name, child]) => [
          name,
          structural(child, `${path}.${name}`),
        ]),
      );
    } else if ((key === 'items' || key === 'additionalProperties') && typeof value === 'object') {
      out[key] = structural(value as JsonSchema, `${path}[]`);
    } else out[key] = value;
  }
  // A free-form node: Kubernetes wants a type on every field, so free-form means an object that keeps
  // whatever fields it is given (an untyped field is refused: "must not be empty for specified object fields").
  if (out.type === undefined) {
    out.type = 'object';
    out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  if (out.type === 'object' && isFreeForm(out.additionalProperties)) {
    delete out.additionalProperties;
    out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  return out;
}

function isFreeForm(node: unknown): boolean {
  if (node === true) return true;
  if (node === null || typeof node !== 'object') return false;
  const { description: _description, ...rest } = node as JsonSchema;
  return (
    Object.keys(rest).length === 0 ||
    (rest.type === 'object' && rest['x-kubernetes-preserve-unknown-fields'] === true && !rest.properties)
  );
}

function openApi(schema: z.ZodType, path: string): JsonSchema {
  return structural(
    z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as JsonSchema,
    path,
  );
}

export function triggerCrd(): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `triggers.${apiGroup}` },
    spec: {
      group: apiGroup,
      scope: 'Namespaced',
      names: {
        kind: 'Trigger',
        listKind: 'TriggerList',
        plural: 'triggers',
        singular: 'trigger',
        shortNames: ['trg'],
      },
      versions: [
        {
          name: apiVersion,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Source', type: 'string', jsonPath: '.status.sourceKind' },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
            { name: 'Last Event', type: 'date', jsonPath: '.status.lastEventTime' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'A Trigger: events from one source, filtered, delivered durably to one target.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: openApi(triggerSpecSchema, 'spec'),
                status: openApi(triggerStatusSchema, 'status'),
              },
            },
          },
        },
      ],
    },
  };
}

export function triggerCrdYaml(): string {
  return `# Generated from src/trigger/schema.ts by \`trigger-hub crd\`: do not edit by hand.\n${stringify(triggerCrd(), { lineWidth: 0 })}`;
}
