/**
 * Node names exactly as torchvision 0.14.1's `NodePathTracer` makes them.
 *
 * A name is the path of the module whose forward was running, then (for anything but a
 * module call) the op's torch.fx name. torch.fx numbers repeated names globally; torchvision
 * strips that number and numbers again by the last earlier name of the same form. We keep
 * its quirks on purpose: the trailing `_<digits>` is stripped from any name, module paths
 * included, and the dots of a name act as regex wildcards when looking for earlier names.
 */

/** torch.fx's node name for a target before its global numbering (`Graph._target_to_str` + `create_name`). */
export function fxBaseName(op: "call_function" | "call_method" | "get_attr" | "placeholder", target: string): string {
  let name = snakeCase(target);
  name = name.replace(/[^0-9a-zA-Z_]+/g, "_");
  if (/^[0-9]/.test(name)) name = `_${name}`;
  return name;
}

/** torch.fx's `_snake_case`: an underscore before each capital that follows a lowercase letter. */
function snakeCase(s: string): string {
  let out = "";
  let prevLower = false;
  for (const c of s) {
    const lower = c.toLowerCase();
    const upper = c.toUpperCase();
    if (prevLower && c === upper && c !== lower) out += "_";
    out += lower;
    prevLower = c === lower && c !== upper;
  }
  return out;
}

export class NodeNamer {
  private readonly names: string[] = [];

  /** Names a node and remembers the name, as `_get_node_qualname` followed by the record. */
  name(modulePath: string, isModuleCall: boolean, fxName: string): string {
    let q = modulePath;
    if (!isModuleCall) {
      if (q.length > 0) q += ".";
      q += fxName;
    }
    if (/^.+_[0-9]+$/s.test(q)) q = q.slice(0, q.lastIndexOf("_"));
    // Python's re.match(rf"{q}(_[0-9]+)?$", existing): anchored at the start, q unescaped.
    const pattern = new RegExp(`^${q}(_[0-9]+)?$`);
    for (let i = this.names.length - 1; i >= 0; i--) {
      const existing = this.names[i]!;
      if (!pattern.test(existing)) continue;
      const postfix = existing.split(q).join("");
      const next = postfix.length > 0 ? Number.parseInt(postfix.slice(1), 10) + 1 : 1;
      q += `_${next}`;
      break;
    }
    this.names.push(q);
    return q;
  }
}
