/**
 * Objects keyed by user keys (features, outputs by key) are built on a null prototype, so that
 * every key is its own property whatever its name: "__proto__" would otherwise set the prototype,
 * and the value would vanish from the result.
 */
export function keyedRecord<V>(entries: Iterable<readonly [string, V]>): Record<string, V> {
  const record = Object.create(null) as Record<string, V>;
  for (const [key, value] of entries) record[key] = value;
  return record;
}
