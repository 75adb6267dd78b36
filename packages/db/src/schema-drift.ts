/**
 * Does prisma/schema.prisma still describe the database the migrations build? Compares
 * Prisma's own reading of the schema (its DMMF) with a migrated database's catalogue: every
 * table, every column, its type and whether it may be NULL. (Indexes, constraints, views and
 * TimescaleDB's objects are the migrations' business and are not compared.) No I/O here:
 * `bin/check-schema.ts` reads both sides.
 */

/** The part of a DMMF field this check reads. */
export interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'enum' | 'object' | 'unsupported';
  type: string;
  isList: boolean;
  isRequired: boolean;
  nativeType?: [string, string[]] | null;
}

export interface DmmfModel {
  name: string;
  dbName?: string | null;
  fields: DmmfField[];
}

export interface DmmfEnum {
  name: string;
  dbName?: string | null;
}

/** One column of the database, as information_schema.columns gives it. */
export interface DbColumn {
  table: string;
  column: string;
  /** udt_name: int4, text, timestamptz, _text (array of text), an enum's type name… */
  udt: string;
  nullable: boolean;
}

/** PostgreSQL type of a Prisma scalar without `@db.*` (Prisma's defaults for PostgreSQL). */
const DEFAULT_TYPES: Record<string, string> = {
  String: 'text',
  Int: 'int4',
  BigInt: 'int8',
  Float: 'float8',
  Decimal: 'numeric',
  Boolean: 'bool',
  DateTime: 'timestamp',
  Json: 'jsonb',
  Bytes: 'bytea',
};

/** PostgreSQL type of a `@db.*` native type. */
const NATIVE_TYPES: Record<string, string> = {
  Uuid: 'uuid',
  SmallInt: 'int2',
  Integer: 'int4',
  BigInt: 'int8',
  Real: 'float4',
  DoublePrecision: 'float8',
  Text: 'text',
  VarChar: 'varchar',
  Char: 'bpchar',
  Timestamptz: 'timestamptz',
  Timestamp: 'timestamp',
  Date: 'date',
  Json: 'json',
  JsonB: 'jsonb',
  Inet: 'inet',
  Boolean: 'bool',
};

function expectedUdt(field: DmmfField, enums: Map<string, string>): string {
  const base =
    field.kind === 'enum'
      ? (enums.get(field.type) ?? field.type)
      : field.nativeType
        ? (NATIVE_TYPES[field.nativeType[0]] ?? field.nativeType[0].toLowerCase())
        : (DEFAULT_TYPES[field.type] ?? field.type.toLowerCase());
  return field.isList ? `_${base}` : base;
}

/** Every difference between the schema's models and the database's tables, as sentences. */
export function compareSchema(
  models: DmmfModel[],
  enumsList: DmmfEnum[],
  columns: DbColumn[],
  ignoreTables: string[] = ['_prisma_migrations'],
): string[] {
  const problems: string[] = [];
  const enums = new Map(enumsList.map((e) => [e.name, e.dbName ?? e.name]));
  const db = new Map<string, Map<string, DbColumn>>();
  for (const c of columns) {
    if (ignoreTables.includes(c.table)) continue;
    const t = db.get(c.table) ?? new Map<string, DbColumn>();
    db.set(c.table, t);
    t.set(c.column, c);
  }
  const modelled = new Set<string>();
  for (const model of models) {
    const table = model.dbName ?? model.name;
    modelled.add(table);
    const cols = db.get(table);
    if (!cols) {
      problems.push(`model ${model.name}: table "${table}" does not exist in the migrated database`);
      continue;
    }
    const seen = new Set<string>();
    for (const f of model.fields) {
      if (f.kind === 'object') continue;
      const name = f.dbName ?? f.name;
      seen.add(name);
      const c = cols.get(name);
      if (!c) {
        problems.push(`${model.name}.${f.name}: column "${table}.${name}" does not exist`);
        continue;
      }
      const want = expectedUdt(f, enums);
      if (c.udt !== want) problems.push(`${model.name}.${f.name}: schema says ${want}, "${table}.${name}" is ${c.udt}`);
      // A list is NOT NULL in Prisma's eyes only by convention; its column may be either.
      if (!f.isList && f.isRequired === c.nullable)
        problems.push(
          `${model.name}.${f.name}: schema says ${f.isRequired ? 'required' : 'optional'}, "${table}.${name}" is ${c.nullable ? 'NULL' : 'NOT NULL'}`,
        );
    }
    for (const name of cols.keys())
      if (!seen.has(name)) problems.push(`${model.name}: column "${table}.${name}" is not in the schema`);
  }
  for (const table of db.keys())
    if (!modelled.has(table)) problems.push(`table "${table}" has no model in prisma/schema.prisma`);
  return problems;
}
