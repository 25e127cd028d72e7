import type { TensorInfo, TensorSource } from "./types.js";
import { missingKey } from "./types.js";

/**
 * A rule a model's own loader applies to checkpoint keys: a file key matching `pattern` (a
 * RegExp source) is read under `key.replace(pattern, replacement)` (`$1`, `$2`... as in
 * String.replace). torchvision's DenseNet loader, for one, renames its published files' old keys.
 */
export interface KeyRename {
  readonly pattern: string;
  readonly replacement: string;
}

/**
 * A module's own rule (its pattern anchored with `^` at the key below the module, as torch's
 * `_load_from_state_dict` sees keys after its `prefix`) as a rule on the whole model's keys, for
 * the module at `path` ("" for the model itself).
 */
export function renameUnderPath(rule: KeyRename, path: string): KeyRename {
  if (!rule.pattern.startsWith("^")) throw new Error(`internal: a module's key rename /${rule.pattern}/ must start with ^ (it is matched below the module's path)`);
  if (path === "") return rule;
  const escapedPath = `${path}.`.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  // The module's pattern in a group: an alternation in it stays under the path. Paths hold no `$`, but a replacement would read one.
  return { pattern: `^${escapedPath}(?:${rule.pattern.slice(1)})`, replacement: `${path.replace(/\$/g, "$$$$")}.${rule.replacement}` };
}

/**
 * A view of `source` with its keys renamed by the first rule that matches each. As in
 * torchvision's loaders, a renamed key wins over a file key that already has that name.
 */
export function withRenamedKeys(source: TensorSource, renames: readonly KeyRename[]): TensorSource {
  if (renames.length === 0) return source;
  const rules = renames.map((r) => ({ regex: new RegExp(r.pattern), replacement: r.replacement }));
  const fileKeyOf = new Map<string, string>();
  for (const key of source.keys()) {
    const rule = rules.find((r) => r.regex.test(key));
    const renamed = rule === undefined ? key : key.replace(rule.regex, rule.replacement);
    if (rule !== undefined || !fileKeyOf.has(renamed)) fileKeyOf.set(renamed, key);
  }
  return keyView(source, fileKeyOf);
}

/**
 * A view of `source` under other names: `fileKeyOf` maps each key of the view, in order, to the key
 * it reads in `source`. Keys not in the map are missing, with the usual one-line error.
 */
export function keyView(source: TensorSource, fileKeyOf: ReadonlyMap<string, string>): TensorSource {
  const keys = [...fileKeyOf.keys()];
  return {
    path: source.path,
    format: source.format,
    keys: () => [...keys],
    info(key: string): TensorInfo | undefined {
      const fileKey = fileKeyOf.get(key);
      const info = fileKey === undefined ? undefined : source.info(fileKey);
      return info === undefined ? undefined : { ...info, key };
    },
    async readFloat32(key: string): Promise<Float32Array> {
      const fileKey = fileKeyOf.get(key);
      if (fileKey === undefined) throw missingKey(source.path, key, keys);
      return source.readFloat32(fileKey);
    },
    close: () => source.close(),
  };
}
