/**
 * JSON Schemas of presets and batch manifests, made from the table of settings, so that editors
 * complete and check them (a YAML file points at one with a `# yaml-language-server: $schema=…`
 * line). The files in schemas/ are written by `npm run docs:schema` (tools/schemas.ts).
 */
import { SETTINGS, ITEM_FIELDS, settingsIn, GROUP_NAME, type SettingName, type SettingSpec } from './table.js';

type Schema = Record<string, unknown>;

/** One setting's schema: its type, range or choices, and its help as the description. */
export function settingSchema(name: SettingName): Schema {
  const s: SettingSpec = SETTINGS[name];
  const description = s.note !== undefined ? `${s.help} (${s.note})` : s.help;
  const withDefault = s.default !== undefined ? { default: s.default } : {};
  switch (s.kind) {
    case 'number': {
      const r = s.range!;
      return {
        type: r.integer ? 'integer' : 'number',
        [r.minOpen ? 'exclusiveMinimum' : 'minimum']: r.min,
        [r.maxOpen ? 'exclusiveMaximum' : 'maximum']: r.max,
        ...withDefault,
        description,
      };
    }
    case 'boolean':
      return { type: 'boolean', ...withDefault, description };
    case 'choice':
      return { type: 'string', enum: [...s.choices!], ...withDefault, description };
    case 'layers':
      return {
        anyOf: [
          { type: 'array', items: { type: 'integer', minimum: 0 } },
          { type: 'string', pattern: GROUP_NAME.source },
        ],
        description: 'layer numbers, e.g. [1, 2], or the name of a layer group (the pack\'s transformer.layerGroups, or all), e.g. single',
      };
  }
}

function settingsOf(place: 'preset' | 'item'): Schema {
  return Object.fromEntries(settingsIn(place).map((n) => [n, settingSchema(n)]));
}

const SCHEMA_PROPERTY = { $schema: { type: 'string', description: 'the JSON Schema this file follows (ignored by flowedit)' } };

/** The schema of a preset file (presets/*.yaml). */
export function presetSchema(): Schema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'flowedit preset',
    description: 'A named recipe of settings; flags given on the command line override its values.',
    type: 'object',
    properties: {
      ...SCHEMA_PROPERTY,
      description: { type: 'string', description: 'one line shown by flowedit presets list' },
      ...settingsOf('preset'),
    },
    additionalProperties: false,
  };
}

/** The schema of a YAML batch manifest: a list of items, or a mapping with items. */
export function batchSchema(): Schema {
  const itemFields = Object.fromEntries(Object.entries(ITEM_FIELDS).map(([k, description]) => [k, { type: 'string', description }]));
  const item = {
    type: 'object',
    properties: {
      ...itemFields,
      input: { type: 'string', minLength: 1, description: ITEM_FIELDS.input },
      targets: {
        type: 'object',
        propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$' },
        additionalProperties: { type: 'string' },
        description: ITEM_FIELDS.targets,
      },
      ...settingsOf('item'),
    },
    required: ['input'],
    additionalProperties: false,
  };
  const items = { type: 'array', items: { $ref: '#/$defs/item' }, minItems: 1 };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'flowedit batch manifest',
    description: 'Items to run with flowedit batch: a list, or a mapping with items and a default preset.',
    $defs: { item },
    anyOf: [
      items,
      {
        type: 'object',
        properties: {
          ...SCHEMA_PROPERTY,
          items,
          preset: { type: 'string', description: "the items' default preset: a name or a .yaml file relative to the manifest" },
          allowInputsOutside: { type: 'boolean', default: false, description: "inputs and masks may lie outside the manifest's folder" },
        },
        required: ['items'],
        additionalProperties: false,
      },
    ],
  };
}

/** The schema files, by name, as written (two-space JSON and a final newline). */
export function schemaFiles(): Record<string, string> {
  const text = (s: Schema) => `${JSON.stringify(s, null, 2)}\n`;
  return { 'preset.schema.json': text(presetSchema()), 'batch.schema.json': text(batchSchema()) };
}
