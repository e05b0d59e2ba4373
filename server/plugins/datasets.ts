/** Datasets registered on this node (they stay here): register a CSV under the data root, list them. */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { parseCsv, readFingerprinted, type LoadOptions } from '../../engine/csv.ts';
import { errors, Name, security } from './schemas.ts';

const Register = Type.Object(
  {
    name: Name,
    path: Type.String({ minLength: 1, maxLength: 4096, description: "a CSV file under the node's data root" }),
    idColumn: Type.String({ minLength: 1 }),
    labelColumn: Type.Optional(Type.String({ minLength: 1 })),
    uscc: Type.Optional(Type.Boolean({ description: 'ids are unified social credit codes (checked)' })),
    exclude: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

export const datasetsPlugin: FastifyPluginAsyncTypebox = async (app) => {
  const { node } = app;
  /** A data file named by an admin request: under the data root (the default), or anywhere (the old handling, tests only). */
  const dataFile = (requested: string) => (node.unsafe.dataPaths !== 'unconfined' ? node.dataRoot.read(requested) : { path: requested, name: requested, text: undefined, sha256: undefined });

  app.post(
    '/',
    { prefixTrailingSlash: 'no-slash', schema: { summary: 'Register a CSV dataset on this node (it stays here)', security, body: Register, response: { 200: Type.Object({ name: Type.String(), rows: Type.Integer(), features: Type.Array(Type.String()), label: Type.Union([Type.String(), Type.Null()]), sha256: Type.String({ description: 'SHA-256 of the file: the fingerprint jobs pin' }) }), ...errors } } },
    async (req) => {
      const b = req.body;
      const options: LoadOptions = {
        idColumn: b.idColumn,
        ...(b.labelColumn !== undefined ? { labelColumn: b.labelColumn } : {}),
        ...(b.uscc === true ? { idFormat: 'uscc' as const } : {}),
        ...(b.exclude ? { exclude: b.exclude } : {}),
      };
      // Load it now: bad input is refused with its coded error before anything is stored.
      // Its fingerprint (SHA-256 of the bytes parsed) is recorded with it and in the audit chain.
      const f = dataFile(b.path);
      const content = f.text === undefined ? readFingerprinted(f.path, f.name, node.limits.dataFileBytes) : f;
      const t = parseCsv(content.text, options, f.name);
      node.store.putDataset({ name: b.name, path: f.path, options: JSON.stringify(options), rows: t.ids.length, features: JSON.stringify(t.featureNames), sha256: content.sha256 });
      return { name: b.name, rows: t.ids.length, features: [...t.featureNames], label: t.labelColumn ?? null, sha256: content.sha256 };
    },
  );
  app.get(
    '/',
    { prefixTrailingSlash: 'no-slash', schema: { summary: 'Datasets registered on this node', security, response: { 200: Type.Array(Type.Object({ name: Type.String(), rows: Type.Integer(), features: Type.Array(Type.String()), registeredAt: Type.Number(), sha256: Type.Union([Type.String(), Type.Null()]) })), ...errors } } },
    async () => node.store.datasets().map((d) => ({ name: d.name, rows: d.rows, features: JSON.parse(d.features) as string[], registeredAt: d.registeredAt, sha256: d.sha256 })),
  );
};
