/**
 * Describes a database schema two ways, as the same normalized shape, so a test can compare them:
 * from `schema.prisma` (Prisma's own schema parser, WebAssembly, no native engine) and from a live
 * Postgres database (information_schema / pg_catalog). Covers tables, columns (type, nullability,
 * has-default), enums and their values, primary keys, unique and plain indexes (columns and sort
 * order) and foreign keys.
 */
import { get_dmmf } from '@prisma/prisma-schema-wasm';
import { Client } from 'pg';

export interface SchemaShape {
  tables: string[];
  /** `table.column type null|notnull default|nodefault` */
  columns: string[];
  /** `enum: v1,v2,...` */
  enums: string[];
  /** `table pk|unique|index (col[ DESC], ...)` */
  indexes: string[];
  /** `table (cols) -> table (cols) on delete ACTION` */
  foreignKeys: string[];
}

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'enum' | 'object';
  type: string;
  isRequired: boolean;
  isList: boolean;
  hasDefaultValue: boolean;
  nativeType?: [string, string[]] | null;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}

const SCALAR_TYPES: Record<string, string> = {
  String: 'text',
  Int: 'integer',
  BigInt: 'bigint',
  Boolean: 'boolean',
  Json: 'jsonb',
  DateTime: 'timestamp(3)',
  Float: 'double precision',
};
const NATIVE_TYPES: Record<string, string> = { Uuid: 'uuid', Timestamptz: 'timestamptz' };

export function shapeFromPrismaSchema(schemaText: string): SchemaShape {
  const dmmf = JSON.parse(get_dmmf(JSON.stringify({ prismaSchema: [['schema.prisma', schemaText]] }))).datamodel as {
    models: DmmfModel[];
    enums: Array<{ name: string; dbName?: string | null; values: Array<{ name: string; dbName?: string | null }> }>;
    indexes: Array<{ model: string; type: 'id' | 'unique' | 'normal' | 'fulltext'; fields: Array<{ name: string; sortOrder?: 'asc' | 'desc' }> }>;
  };
  const tableOf = new Map(dmmf.models.map((m) => [m.name, m.dbName ?? m.name]));
  const columnOf = (model: string, field: string) => {
    const f = dmmf.models.find((m) => m.name === model)!.fields.find((x) => x.name === field)!;
    return f.dbName ?? f.name;
  };
  const columns: string[] = [];
  const foreignKeys: string[] = [];
  for (const m of dmmf.models) {
    const table = m.dbName ?? m.name;
    for (const f of m.fields) {
      if (f.kind === 'object') {
        if (f.relationFromFields?.length) {
          const to = tableOf.get(f.type)!;
          foreignKeys.push(
            `${table} (${f.relationFromFields.map((x) => columnOf(m.name, x)).join(',')}) -> ${to} (${f.relationToFields!.map((x) => columnOf(f.type, x)).join(',')}) on delete ${(f.relationOnDelete ?? 'NoAction').toUpperCase()}`,
          );
        }
        continue;
      }
      const type = f.kind === 'enum' ? f.type : ((f.nativeType && NATIVE_TYPES[f.nativeType[0]]) ?? SCALAR_TYPES[f.type] ?? `?${f.type}`);
      columns.push(`${table}.${f.dbName ?? f.name} ${type}${f.isList ? '[]' : ''} ${f.isRequired ? 'notnull' : 'null'} ${f.hasDefaultValue ? 'default' : 'nodefault'}`);
    }
  }
  const indexes = dmmf.indexes.map((i) => {
    const kind = i.type === 'id' ? 'pk' : i.type === 'unique' ? 'unique' : 'index';
    const cols = i.fields.map((f) => `${columnOf(i.model, f.name)}${f.sortOrder === 'desc' ? ' DESC' : ''}`);
    return `${tableOf.get(i.model)} ${kind} (${cols.join(',')})`;
  });
  return {
    tables: [...tableOf.values()].sort(),
    columns: columns.sort(),
    enums: dmmf.enums.map((e) => `${e.dbName ?? e.name}: ${e.values.map((v) => v.dbName ?? v.name).join(',')}`).sort(),
    indexes: indexes.sort(),
    foreignKeys: foreignKeys.sort(),
  };
}

export async function shapeFromDatabase(databaseUrl: string): Promise<SchemaShape> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const tables = await db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> '_prisma_migrations'`,
    );
    const cols = await db.query<{
      table_name: string;
      column_name: string;
      data_type: string;
      udt_name: string;
      datetime_precision: number | null;
      is_nullable: string;
      column_default: string | null;
    }>(
      `SELECT table_name, column_name, data_type, udt_name, datetime_precision, is_nullable, column_default FROM information_schema.columns
       WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'`,
    );
    const typeOf = (c: (typeof cols.rows)[number]) => {
      if (c.data_type === 'USER-DEFINED') return c.udt_name;
      if (c.data_type === 'ARRAY') return `${c.udt_name.replace(/^_/, '')}[]`; // e.g. _text -> text[]
      if (c.data_type === 'timestamp with time zone') return 'timestamptz';
      if (c.data_type === 'timestamp without time zone') return `timestamp(${c.datetime_precision})`;
      return c.data_type;
    };
    const enums = await db.query<{ name: string; values: string }>(
      `SELECT t.typname AS name, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) AS values
       FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
       WHERE n.nspname = 'public' GROUP BY t.typname`,
    );
    const idx = await db.query<{ table: string; primary: boolean; unique: boolean; cols: string }>(
      `SELECT c.relname AS table, i.indisprimary AS primary, i.indisunique AS unique,
              string_agg(a.attname || CASE WHEN (i.indoption[k.ord - 1] & 1) = 1 THEN ' DESC' ELSE '' END, ',' ORDER BY k.ord) AS cols
       FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
       WHERE n.nspname = 'public' AND c.relname <> '_prisma_migrations'
       GROUP BY c.relname, i.indexrelid, i.indisprimary, i.indisunique`,
    );
    const fks = await db.query<{ def: string }>(
      `SELECT conrelid::regclass::text || ' (' || (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum)
              || ') -> ' || confrelid::regclass::text || ' (' || (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum)
              || ') on delete ' || CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'r' THEN 'RESTRICT' WHEN 'n' THEN 'SETNULL' WHEN 'd' THEN 'SETDEFAULT' ELSE 'NOACTION' END AS def
       FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.contype = 'f' AND n.nspname = 'public'`,
    );
    return {
      tables: tables.rows.map((r) => r.table_name).sort(),
      columns: cols.rows
        .map((c) => `${c.table_name}.${c.column_name} ${typeOf(c)} ${c.is_nullable === 'NO' ? 'notnull' : 'null'} ${c.column_default !== null ? 'default' : 'nodefault'}`)
        .sort(),
      enums: enums.rows.map((e) => `${e.name}: ${e.values}`).sort(),
      indexes: idx.rows.map((r) => `${r.table} ${r.primary ? 'pk' : r.unique ? 'unique' : 'index'} (${r.cols})`).sort(),
      foreignKeys: fks.rows.map((r) => r.def.replace(/"/g, '')).sort(),
    };
  } finally {
    await db.end();
  }
}
